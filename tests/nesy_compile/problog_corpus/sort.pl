% construct: sort/2 in the standard order, duplicates removed (ProbLog 2.3 has no msort/2)
0.5::go.
s(X) :- go, sort([c, a, 2, b, a, f(x), 1, 1.5], X).
k(X) :- go, sort([f(b), g(a), f(a, b), z], X).
query(s(_)).
query(k(_)).
