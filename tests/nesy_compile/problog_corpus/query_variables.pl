% construct: queries with variables (query(p(_)), query(e(a, X))) standing for their groundings
0.3::e(a, b).
0.6::e(a, c).
0.8::e(b, c).
p(X) :- e(X, _).
query(p(_)).
query(e(a, X)).
query(e(_, c)).
