% construct: evidence/2 with true and false, evidence/1 and evidence(\+a)
0.5::a.
0.4::b.
0.3::c.
0.2::d.
x :- a ; b.
y :- b, c.
z :- c ; d.
e :- a, d.
evidence(x, true).
evidence(y, false).
evidence(z).
evidence(\+ e).
query(a).
query(b).
query(c).
query(d).
