% construct: library(lists): member, append, nth0, reverse, sum_list, max_list, select, memberchk
:- use_module(library(lists)).
0.5::go.
r(member, X) :- go, member(X, [a, b]).
r(append, X) :- go, append([1], [2, 3], X).
r(nth0, X) :- go, nth0(1, [p, q, r], X).
r(reverse, X) :- go, reverse([1, 2, 3], X).
r(sum_list, X) :- go, sum_list([1, 2, 3.5], X).
r(max_list, X) :- go, max_list([4, 9, 2], X).
r(select, X) :- go, select(b, [a, b, c], X).
r(memberchk, X) :- go, memberchk(X, [z, y]).
query(r(_, _)).
