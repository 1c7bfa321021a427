% construct: non-ground clauses whose heads are bound only by the query
0.4::anything(_).
same(X, X).
0.7::link(X, Y) :- X \== Y.
wrap(X, f(X)).
query(anything(foo)).
query(anything(g(1))).
query(same(a, a)).
query(same(a, b)).
query(link(a, b)).
query(link(a, a)).
query(wrap(z, f(z))).
