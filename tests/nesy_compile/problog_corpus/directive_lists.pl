% construct: the directive :- use_module(library(lists)). with member/2 and append/3
:- use_module(library(lists)).
0.5::likes(X) :- member(X, [tea, coffee]).
both :- likes(tea), likes(coffee).
split(A, B) :- append(A, B, [1, 2]).
query(likes(tea)).
query(both).
query(split(_, _)).
