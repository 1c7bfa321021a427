% construct: a negative head literal (0.5::\+a :- c.) that can cancel a derivation
a :- b.
0.8::b.
0.4::c.
0.5::\+a :- c.
query(a).
