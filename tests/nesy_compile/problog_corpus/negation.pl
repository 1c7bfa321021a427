% construct: negation as failure \+ on probabilistic atoms, rules and ground calls with variables bound first
0.3::rain.
0.6::cold.
0.5::sick(ann).
0.2::sick(bob).
person(ann).
person(bob).
nice :- \+ rain, \+ cold.
healthy(X) :- person(X), \+ sick(X).
someone_sick :- sick(_).
fine :- \+ someone_sick.
query(nice).
query(healthy(_)).
query(fine).
