% construct: if-then-else ( C -> T ; E ): ProbLog 2.3 has no ->/2 (unknown clause), so it must be refused, not given a meaning of our own
0.3::rain.
0.8::umbrella.
dry :- ( rain -> umbrella ; true ).
sign(X, S) :- ( X > 0 -> S = pos ; S = nonpos ).
query(dry).
query(sign(5, _)).
