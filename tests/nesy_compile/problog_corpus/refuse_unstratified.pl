% construct: negation through a cycle (a :- \+b. b :- \+a.) with probabilities: unstratified, must be refused
0.4::c.
a :- c, \+ b.
b :- \+ a.
query(a).
query(b).
