% construct: not/1 (the same as \+)
0.3::a.
0.6::b.
na :- not(a).
nab :- not(a), b.
query(na).
query(nab).
