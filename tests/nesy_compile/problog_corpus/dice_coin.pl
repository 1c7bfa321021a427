% construct: a (loaded) die and a coin as annotated disjunctions with bodies and evidence
0.1::die(D, 1); 0.1::die(D, 2); 0.1::die(D, 3); 0.1::die(D, 4); 0.1::die(D, 5); 0.5::die(D, 6) :- dice(D).
0.5::coin(heads); 0.5::coin(tails).
dice(d1).
dice(d2).
total(S) :- die(d1, A), die(d2, B), S is A + B.
double :- die(d1, X), die(d2, X).
win :- coin(heads), total(S), S > 9.
win :- coin(tails), double.
evidence(double, false).
query(total(7)).
query(win).
query(coin(heads)).
