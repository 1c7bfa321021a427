% construct: annotated disjunctions with bodies and variables, one choice per body instance
0.6::cloudy.
0.7::rain(X); 0.2::snow(X) :- cloudy, day(X).
0.5::good(X); 0.5::bad(X) :- day(X).
day(mon).
day(tue).
outside(X) :- day(X), good(X), \+ rain(X).
query(rain(mon)).
query(snow(tue)).
query(outside(mon)).
query(good(tue)).
