% construct: functor/3 and arg/3 inspecting terms
0.5::go.
name(N, A) :- go, functor(f(x, y, z), N, A).
const(N, A) :- go, functor(foo, N, A).
second(X) :- go, arg(2, h(a, b, c), X).
query(name(_, _)).
query(const(_, _)).
query(second(_)).
