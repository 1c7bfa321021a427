% construct: negation of a goal with an unbound (existential) variable: \+ path(X, _)
0.5::edge(a, b).
0.6::edge(b, c).
node(a).
node(b).
node(c).
path(X, Y) :- edge(X, Y).
path(X, Y) :- edge(X, Z), path(Z, Y).
isolated(X) :- node(X), \+ path(X, _).
query(isolated(_)).
