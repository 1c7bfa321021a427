% construct: :- consult(file). loading clauses from a file beside the program
:- consult('consult_helper.inc.pl').
0.5::extra.
reach(X) :- helper_edge(a, X).
reach(d) :- extra.
query(reach(b)).
query(reach(d)).
query(helper_fact).
