% construct: :- unknown(fail). making a call to an undefined predicate fail
:- unknown(fail).
0.4::a.
b :- a, undefined_thing.
c :- a ; undefined_thing.
d :- \+ undefined_thing.
query(b).
query(c).
query(d).
