% construct: an infinite program (unbounded Peano numbers): must be refused, not looped on
nat(0).
nat(s(X)) :- nat(X).
query(nat(_)).
