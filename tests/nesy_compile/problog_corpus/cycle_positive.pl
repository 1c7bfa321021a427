% construct: positive recursion through cycles: path/2 over a probabilistic graph with cycles
0.5::edge(a, b).
0.6::edge(b, c).
0.7::edge(c, a).
0.4::edge(b, a).
0.2::edge(c, d).
path(X, Y) :- edge(X, Y).
path(X, Y) :- edge(X, Z), path(Z, Y).
query(path(a, d)).
query(path(a, a)).
query(path(c, b)).
