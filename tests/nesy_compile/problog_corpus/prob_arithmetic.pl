% construct: probabilities written as arithmetic expressions (1/3::a, 0.5*0.4::b, 1-0.25::c)
1/3::a.
0.5*0.4::b.
1-0.25::c.
2/10 + 0.1::d.
both :- a, b.
either :- c ; d.
query(a).
query(b).
query(c).
query(d).
query(both).
query(either).
