% construct: findall/3 over an answer with two proofs (ProbLog lists each proof, nesy refuses)
0.5::a. 0.4::b.
q(1) :- a.
q(1) :- b.
r(L) :- findall(X, q(X), L).
query(r(_)).
