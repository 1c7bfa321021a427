% Reachability on a probabilistic graph with a cycle (a -> b -> c -> a).
0.5::edge(a, b).
0.6::edge(b, c).
0.7::edge(c, a).
0.3::edge(b, d).
0.8::edge(c, d).
0.4::edge(d, e).
path(X, Y) :- edge(X, Y).
path(X, Y) :- edge(X, Z), path(Z, Y).
% An annotated disjunction and stratified negation.
0.2::weather(rain); 0.5::weather(sun).
open(X) :- path(a, X), \+ weather(rain).
query(path(a, X)).
query(open(e)).
