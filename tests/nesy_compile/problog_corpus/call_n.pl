% construct: call/1 and call/N with extra arguments
0.3::edge(a, b).
0.6::edge(b, c).
via(G) :- call(G).
apply2(P, X, Y) :- call(P, X, Y).
query(via(edge(a, b))).
query(apply2(edge, b, c)).
query(apply2(edge, _, _)).
