% construct: ProbLog's arithmetic functions: abs, min, max, sqrt, exp, log, floor, ceiling, round, truncate
0.5::go.
f(abs, X) :- go, X is abs(-3).
f(min, X) :- go, X is min(4, 9).
f(max, X) :- go, X is max(4, 9).
f(sqrt, X) :- go, X is sqrt(16).
f(exp, X) :- go, X is exp(0).
f(log, X) :- go, X is log(1).
f(floor, X) :- go, X is floor(2.7).
f(ceiling, X) :- go, X is ceiling(2.2).
f(round, X) :- go, X is round(2.5).
f(truncate, X) :- go, X is truncate(-2.7).
query(f(_, _)).
