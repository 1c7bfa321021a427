% construct: forall/2 whose action has variables of its own (some value makes it true)
0.5::likes(ann, tea). 0.6::likes(bob, tea). 0.2::likes(bob, coffee).
person(ann). person(bob).
0.3::has(tea). 0.9::has(coffee).
likes_something :- forall(person(P), likes(P, _)).
all_stocked :- forall(likes(_, D), has(D)).
query(likes_something).
query(all_stocked).
