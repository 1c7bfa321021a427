% construct: type checks var, nonvar, atom, number, integer, float, atomic, compound, callable, is_list, ground
0.5::go.
t(var) :- go, var(_).
t(nonvar) :- go, nonvar(a).
t(atom) :- go, atom(abc).
t(not_atom) :- go, \+ atom(1).
t(number) :- go, number(1.5).
t(integer) :- go, integer(3).
t(float) :- go, float(3.0).
t(atomic) :- go, atomic(7).
t(compound) :- go, compound(f(x)).
t(callable) :- go, callable(foo).
t(is_list) :- go, is_list([1, 2]).
t(not_list) :- go, \+ is_list(foo).
t(ground) :- go, ground(f(a, [b])).
query(t(_)).
