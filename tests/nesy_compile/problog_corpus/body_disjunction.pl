% construct: disjunction ';' in rule bodies, in probabilistic rules and nested with conjunction
0.3::a.
0.4::b.
0.5::c.
r1 :- a ; b.
r2 :- (a, b) ; c.
r3 :- a, (b ; c).
0.5::r4 :- a ; b.
r5(X) :- (X = 1 ; X = 2), c.
query(r1).
query(r2).
query(r3).
query(r4).
query(r5(_)).
