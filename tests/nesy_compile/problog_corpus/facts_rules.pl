% construct: facts, rules and probabilistic facts in the plain 'head :- body.' form
0.6::burglary.
0.3::earthquake.
0.8::hears(john).
0.4::hears(mary).
person(john).
person(mary).
alarm :- burglary.
alarm :- earthquake.
calls(X) :- person(X), alarm, hears(X).
nobody :- \+ calls(john), \+ calls(mary).
query(alarm).
query(calls(john)).
query(calls(mary)).
query(nobody).
query(person(john)).
