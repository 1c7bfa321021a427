% construct: decision-theoretic facts (?::a) of DTProbLog: outside our semantics, must be refused
?::umbrella.
0.3::rain.
dry :- umbrella.
dry :- \+ rain.
utility(dry, 10).
utility(umbrella, -2).
query(dry).
