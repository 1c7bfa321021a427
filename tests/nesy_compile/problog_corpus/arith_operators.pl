% construct: the arithmetic operators ** and ^ (power) and rem
0.5::go.
f(pow, X) :- go, X is 2 ** 3.
f(caret, X) :- go, X is 2 ^ 10.
f(rem, X) :- go, X is -7 rem 3.
query(f(_, _)).
