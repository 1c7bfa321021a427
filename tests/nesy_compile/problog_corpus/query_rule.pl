% construct: queries given by a rule 'query(X) :- Goal.'
0.3::p(1).
0.6::p(2).
0.9::p(3).
small(1).
small(2).
query(p(X)) :- small(X).
