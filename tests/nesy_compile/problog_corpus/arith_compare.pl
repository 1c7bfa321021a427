% construct: arithmetic comparison <, =<, >, >=, =:=, =\= with expressions and mixed int/float
0.5::n(1).
0.5::n(2).
0.5::n(3).
lt(X) :- n(X), X < 2.
le(X) :- n(X), X =< 2.
gt(X) :- n(X), X > 2.
ge(X) :- n(X), X + 1 >= 4.
eq(X) :- n(X), X * 2 =:= 4.0.
ne(X) :- n(X), X =\= 2.
query(lt(_)).
query(le(_)).
query(gt(_)).
query(ge(_)).
query(eq(_)).
query(ne(_)).
