% construct: atoms (plain and quoted) and numbers: integers, negative numbers, floats, 1.0e3
0.5::go.
v(int, X) :- go, X = 42.
v(neg, X) :- go, X = -3.
v(float, X) :- go, X = 2.5.
v(negfloat, X) :- go, X = -0.5.
v(exp, X) :- go, X = 1.0e3.
v(quoted, X) :- go, X = 'Hello world'.
v(plain, X) :- go, X = abc_1.
v(sum, X) :- go, X is 16 + -3.
query(v(_, _)).
