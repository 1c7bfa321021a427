% construct: stratified negation over a recursive predicate (ground negated calls)
0.5::edge(a, b).
0.6::edge(b, c).
0.3::edge(c, a).
node(a).
node(b).
node(c).
path(X, Y) :- edge(X, Y).
path(X, Y) :- edge(X, Z), path(Z, Y).
unreachable(X, Y) :- node(X), node(Y), \+ path(X, Y).
query(unreachable(a, c)).
query(unreachable(c, c)).
query(unreachable(b, _)).
