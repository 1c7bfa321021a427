% construct: findall/3 with a variable bound outside, a negation inside and length/2
:- use_module(library(lists)).
0.6::edge(a, b).
0.3::edge(a, c).
edge(b, c).
0.5::blocked(c).
node(a). node(b). node(c).
open_from(X, L) :- node(X), findall(Y, (edge(X, Y), \+ blocked(Y)), L).
degree(X, N) :- node(X), findall(Y, edge(X, Y), L), length(L, N).
query(open_from(a, _)).
query(open_from(b, _)).
query(degree(_, _)).
