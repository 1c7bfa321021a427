% construct: library(aggregate) head aggregates grouped by the other head arguments, with a user-defined aggregate function
:- use_module(library(aggregate)).
:- use_module(library(lists)).
salary(ann, 10).
salary(bob, 20).
0.5::salary(cid, 40).
0.8::salary(dan, 30).
dept(ann, sales).
dept(bob, sales).
dept(cid, it).
dept(dan, it).
count(L, N) :- length(L, N).
total(D, sum<S>) :- dept(P, D), salary(P, S).
top(D, max<S>) :- dept(P, D), salary(P, S).
low(D, min<S>) :- dept(P, D), salary(P, S).
staff(D, count<P>) :- dept(P, D), salary(P, _).
query(total(_, _)).
query(top(_, _)).
query(low(_, _)).
query(staff(_, _)).
