% construct: findall/3 over deterministic and probabilistic goals
item(a).
item(b).
item(c).
0.3::pick(a).
0.6::pick(b).
items(L) :- findall(X, item(X), L).
picked(L) :- findall(X, pick(X), L).
query(items(_)).
query(picked(_)).
