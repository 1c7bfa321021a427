% construct: arithmetic with is: + - * / // mod, unary minus, integer and float results
0.5::go.
v(sum, X) :- go, X is 3 + 4.
v(diff, X) :- go, X is 3 - 10.
v(prod, X) :- go, X is 6 * 7.
v(quot, X) :- go, X is 7 / 2.
v(intdiv, X) :- go, X is 7 // 2.
v(negdiv, X) :- go, X is -7 // 2.
v(mod, X) :- go, X is -7 mod 3.
v(neg, X) :- go, Y = 5, X is -Y.
v(float, X) :- go, X is 1.5 * 2.
query(v(_, _)).
