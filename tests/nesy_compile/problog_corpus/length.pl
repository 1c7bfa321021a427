% construct: length/2 on a list and building a list of a given length
0.5::go.
len(N) :- go, length([a, b, c], N).
make(L) :- go, length(L, 2), L = [x, y].
query(len(_)).
query(make(_)).
