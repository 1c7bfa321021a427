"""ProbLog's standard libraries that ``:- use_module(library(Name)).`` loads, written in the
language itself (their predicates are ordinary, deterministic clauses, grounded like the
program's own), and the libraries that are refused, with why.
"""

from __future__ import annotations

__all__ = ["LIBRARIES", "UNSUPPORTED_LIBRARIES"]

LISTS = """
append([], L, L).
append([H|T], L, [H|R]) :- append(T, L, R).
member(X, [X|_]).
member(X, [_|T]) :- member(X, T).
select(X, [X|T], T).
select(X, [H|T], [H|R]) :- select(X, T, R).
reverse(L, R) :- reverse_(L, [], R).
reverse_([], A, A).
reverse_([H|T], A, R) :- reverse_(T, [H|A], R).
nth0(I, L, X) :- nth_(L, 0, I, X).
nth1(I, L, X) :- nth_(L, 1, I, X).
nth_([X|_], B, B, X).
nth_([_|T], B, I, X) :- B1 is B + 1, nth_(T, B1, I, X).
last([X], X).
last([_|T], X) :- last(T, X).
sum_list(L, S) :- sum_list_(L, 0, S).
sum_list_([], S, S).
sum_list_([H|T], A, S) :- A1 is A + H, sum_list_(T, A1, S).
sumlist(L, S) :- sum_list(L, S).
max_list([H|T], M) :- max_list_(T, H, M).
max_list_([], M, M).
max_list_([H|T], A, M) :- A1 is max(A, H), max_list_(T, A1, M).
min_list([H|T], M) :- min_list_(T, H, M).
min_list_([], M, M).
min_list_([H|T], A, M) :- A1 is min(A, H), min_list_(T, A1, M).
numlist(L, H, []) :- L > H.
numlist(L, H, [L|T]) :- L =< H, L1 is L + 1, numlist(L1, H, T).
permutation([], []).
permutation(L, [H|T]) :- select(H, L, R), permutation(R, T).
delete([], _, []).
delete([H|T], X, R) :- H == X, delete(T, X, R).
delete([H|T], X, [H|R]) :- H \\== X, delete(T, X, R).
subtract([], _, []).
subtract([H|T], L, R) :- memberchk(H, L), subtract(T, L, R).
subtract([H|T], L, [H|R]) :- \\+ memberchk(H, L), subtract(T, L, R).
list_to_set(L, S) :- list_to_set_(L, [], S).
list_to_set_([], _, []).
list_to_set_([H|T], Seen, R) :- memberchk(H, Seen), list_to_set_(T, Seen, R).
list_to_set_([H|T], Seen, [H|R]) :- \\+ memberchk(H, Seen), list_to_set_(T, [H|Seen], R).
"""

APPLY = """
maplist(_, []).
maplist(G, [A|As]) :- call(G, A), maplist(G, As).
maplist(_, [], []).
maplist(G, [A|As], [B|Bs]) :- call(G, A, B), maplist(G, As, Bs).
maplist(_, [], [], []).
maplist(G, [A|As], [B|Bs], [C|Cs]) :- call(G, A, B, C), maplist(G, As, Bs, Cs).
include(_, [], []).
include(G, [X|Xs], [X|R]) :- call(G, X), include(G, Xs, R).
include(G, [X|Xs], R) :- \\+ call(G, X), include(G, Xs, R).
exclude(_, [], []).
exclude(G, [X|Xs], R) :- call(G, X), exclude(G, Xs, R).
exclude(G, [X|Xs], [X|R]) :- \\+ call(G, X), exclude(G, Xs, R).
foldl(_, [], V, V).
foldl(G, [X|Xs], V0, V) :- call(G, X, V0, V1), foldl(G, Xs, V1, V).
"""

#: the functions of aggregates in clause heads (``total(sum<X>) :- ...``), as ProbLog names them
AGGREGATE = """
avg(L, Avg) :- sum(L, Sum), length(L, Count), Avg is Sum / Count.
sum(L, Sum) :- sum(L, 0, Sum).
sum([], Acc, Acc).
sum([X|T], Acc, Sum) :- Acc1 is Acc + X, sum(T, Acc1, Sum).
min([H|T], Min) :- min(T, H, Min).
min([], Acc, Acc).
min([X|T], Acc, Min) :- X < Acc, min(T, X, Min).
min([X|T], Acc, Min) :- X >= Acc, min(T, Acc, Min).
max([H|T], Max) :- max(T, H, Max).
max([], Acc, Acc).
max([X|T], Acc, Max) :- X >= Acc, max(T, X, Max).
max([X|T], Acc, Max) :- X < Acc, max(T, Acc, Max).
"""

#: ProbLog's library(string): atoms and strings joined, split into characters, read as integers
STRING = """
concat(Terms, Out) :- '$join'('', Terms, Out).
join(Separator, Terms, Out) :- '$join'(Separator, Terms, Out).
lst2str(Terms, Out) :- '$join'('', Terms, Out).
str2lst(Text, Chars) :- '$chars'(Text, Chars).
str2int(Text, N) :- '$integer'(Text, N).
"""

#: library name -> its clauses
LIBRARIES = {"lists": LISTS, "apply": APPLY, "aggregate": AGGREGATE, "string": STRING}

#: libraries of ProbLog that are refused, and why
UNSUPPORTED_LIBRARIES = {
    "assoc": "association lists are not: use lists",
    "cut": "ProbLog's cut is not",
    "db": "database access is not",
    "record": "assert and retract are not",
}
