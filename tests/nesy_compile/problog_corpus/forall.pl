% construct: forall/2 over deterministic and probabilistic conditions
node(a).
node(b).
0.5::ok(a).
0.8::ok(b).
colour(a, red).
colour(b, red).
all_red :- forall(node(X), colour(X, red)).
all_ok :- forall(node(X), ok(X)).
query(all_red).
query(all_ok).
