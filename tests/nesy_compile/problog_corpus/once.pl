% construct: once/1 over probabilistic goals
0.5::c(1).
0.5::c(2).
some_c :- once(c(_)).
query(some_c).
