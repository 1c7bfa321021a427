% construct: a negated query 'query(\+p)'
0.3::p.
0.6::q.
r :- p, q.
query(\+p).
query(\+r).
query(r).
