% construct: consulted by directive_consult.pl (not a program of its own)
0.3::helper_edge(a, b).
0.7::helper_edge(a, c).
helper_fact.
