% construct: an annotated disjunction with a 'none' remainder (probabilities sum below 1)
0.1::weather(sun); 0.3::weather(rain).
nothing :- \+ weather(sun), \+ weather(rain).
query(weather(sun)).
query(weather(rain)).
query(nothing).
