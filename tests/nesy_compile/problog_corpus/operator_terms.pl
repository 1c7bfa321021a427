% construct: compound terms written with operators as arguments (a-b, 1+2, k-v pairs), printed as ProbLog prints them
0.5::pair(a-b).
0.4::expr(1+2).
pairs(L) :- L = [x-1, y-2].
query(pair(_)).
query(expr(_)).
query(pairs(_)).
