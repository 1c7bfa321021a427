% construct: strings in double quotes as arguments
0.6::says(ann, "hello").
0.3::says(bob, "bye").
greets(X) :- says(X, "hello").
same_text :- "abc" = "abc".
query(says(_, _)).
query(greets(_)).
query(same_text).
