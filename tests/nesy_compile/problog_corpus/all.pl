% construct: ProbLog's all/3 (like findall/3, fails when there is no solution)
0.4::has(a).
0.7::has(b).
kind(a).
kind(b).
everything(L) :- all(X, kind(X), L).
owned(L) :- all(X, has(X), L).
query(everything(_)).
query(owned(_)).
