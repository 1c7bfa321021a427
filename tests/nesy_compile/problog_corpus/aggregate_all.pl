% construct: aggregation of all solutions (count, sum, max, bag, set) as ProbLog 2.3 writes it: findall/3 with length/2, sum_list/2, max_list/2, sort/2 (it has no aggregate_all/3)
:- use_module(library(lists)).
w(a, 2).
w(b, 3).
w(c, 3).
0.5::w(d, 7).
count(N) :- findall(V, w(_, V), L), length(L, N).
total(S) :- findall(V, w(_, V), L), sum_list(L, S).
top(M) :- findall(V, w(_, V), L), max_list(L, M).
bag(B) :- findall(V, w(_, V), B).
set(S) :- findall(V, w(_, V), B), sort(B, S).
query(count(_)).
query(total(_)).
query(top(_)).
query(bag(_)).
query(set(_)).
