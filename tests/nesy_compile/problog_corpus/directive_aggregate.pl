% construct: :- use_module(library(aggregate)). with head aggregates sum<X>, max<X>, min<X>, avg<X>
:- use_module(library(aggregate)).
cost(a, 2).
cost(b, 3).
0.5::cost(c, 5).
total(sum<V>) :- cost(_, V).
largest(max<V>) :- cost(_, V).
smallest(min<V>) :- cost(_, V).
mean(avg<V>) :- cost(_, V).
query(total(_)).
query(largest(_)).
query(smallest(_)).
query(mean(_)).
