% construct: :- use_module(library(apply)). with maplist/2,3, include/3 and exclude/3
:- use_module(library(lists)).
:- use_module(library(apply)).
0.5::ok(a).
0.6::ok(b).
0.7::ok(c).
big(X) :- X > 2.
double(X, Y) :- Y is 2 * X.
all_ok :- maplist(ok, [a, b, c]).
doubled(L) :- maplist(double, [1, 2, 3], L).
bigs(L) :- include(big, [1, 2, 3, 4], L).
smalls(L) :- exclude(big, [1, 2, 3, 4], L).
query(all_ok).
query(doubled(_)).
query(bigs(_)).
query(smalls(_)).
