% construct: a continuous distribution (normal(0,1)::x): outside our semantics, must be refused
normal(0, 1)::x.
pos :- x > 0.
query(pos).
