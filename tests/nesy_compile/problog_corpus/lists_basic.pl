% construct: list terms [H|T], [a,b,c], [] and pattern matching on them
0.5::go.
first([H|_], H).
rest([_|T], T).
empty([]).
pair(X, Y) :- go, first([a, b, c], X), rest([a, b, c], Y).
query(pair(_, _)).
query(empty([])).
query(first([x], _)).
