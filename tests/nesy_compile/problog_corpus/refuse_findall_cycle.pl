% construct: findall/3 whose goal depends on the clause that collects it (not stratified)
0.5::seed(1).
grow(X) :- seed(X).
grow(N) :- findall(X, grow(X), L), length(L, N).
query(grow(_)).
