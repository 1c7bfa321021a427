% construct: between/3 enumerating integers and succ/2 both ways
0.4::coin(1).
0.5::coin(2).
0.6::coin(3).
heads_in(X) :- between(1, 3, X), coin(X).
next(X, Y) :- between(1, 2, X), succ(X, Y).
prev(Y) :- succ(Y, 3).
query(heads_in(_)).
query(next(_, _)).
query(prev(_)).
