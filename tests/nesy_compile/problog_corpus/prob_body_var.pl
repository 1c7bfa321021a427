% construct: a probability given by a variable bound in the body (P::h(X) :- w(X, P).)
w(a, 0.2).
w(b, 0.5).
w(c, 0.9).
P::h(X) :- w(X, P).
Q::k(X) :- w(X, P), Q is 1 - P.
any :- h(X).
query(h(a)).
query(h(c)).
query(k(b)).
query(any).
