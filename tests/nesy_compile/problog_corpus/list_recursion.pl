% construct: recursion over lists with a probabilistic fact per element (all, some, count)
0.5::heads(a).
0.4::heads(b).
0.3::heads(c).
all_heads([]).
all_heads([X|T]) :- heads(X), all_heads(T).
some_heads([X|_]) :- heads(X).
some_heads([_|T]) :- some_heads(T).
count([], 0).
count([X|T], N) :- count(T, M), heads(X), N is M + 1.
count([X|T], N) :- count(T, N), \+ heads(X).
query(all_heads([a, b, c])).
query(some_heads([a, b, c])).
query(count([a, b, c], _)).
