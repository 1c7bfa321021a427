% construct: unification and term comparison =, \=, ==, \== on atoms, numbers and compounds
0.5::p(a).
0.4::p(f(b)).
same(X, Y) :- X = Y.
differ(X, Y) :- p(X), p(Y), X \= Y.
ident :- p(X), X == a.
notident :- p(X), X \== a.
shape(Y) :- f(Y) = f(b), p(f(Y)).
query(same(a, a)).
query(same(g(1), g(1))).
query(differ(a, f(b))).
query(ident).
query(notident).
query(shape(_)).
