% construct: an annotated disjunction whose probabilities sum to 1 (no remainder)
0.2::colour(red); 0.5::colour(green); 0.3::colour(blue).
warm :- colour(red).
not_blue :- \+ colour(blue).
query(colour(red)).
query(colour(green)).
query(colour(blue)).
query(warm).
query(not_blue).
