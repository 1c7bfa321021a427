% construct: the '<-' clause form (head <- body) next to ':-'
0.4::rain.
0.7::sprinkler.
wet <- rain.
wet <- sprinkler.
dry :- \+ wet.
query(wet).
query(dry).
