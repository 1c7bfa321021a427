% construct: the standard order of terms: @<, @>, @=<, @>= and compare/3 (numbers < atoms < compounds)
0.5::ok.
before(X, Y) :- ok, X @< Y.
after(X, Y) :- ok, X @> Y.
noless(X, Y) :- X @>= Y.
atmost(X, Y) :- X @=< Y.
cmp(O, X, Y) :- compare(O, X, Y).
query(before(1, a)).
query(before(a, f(a))).
query(before(b, a)).
query(after(g(a), f(a, b))).
query(after(f(b), f(a))).
query(noless(2.0, 1)).
query(atmost(abc, abd)).
query(cmp(_, 3, 2)).
query(cmp(_, x, x)).
