% construct: =.. (univ) taking terms apart and building them
0.5::edge(a, b).
0.3::edge(b, c).
parts(L) :- f(a, b) =.. L.
build(T) :- T =.. [g, 1, 2].
holds(X, Y) :- G =.. [edge, X, Y], call(G).
query(parts(_)).
query(build(_)).
query(holds(a, b)).
query(holds(b, c)).
