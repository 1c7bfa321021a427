% construct: :- use_module(library(string)). (concat/2, join/3, str2lst/2, lst2str/2, str2int/2) and operators standing alone as atoms
:- use_module(library(string)).
0.4::sep(-).
0.6::sep(+).
name(ab, "cd", 12).
label(S) :- name(A, B, C), concat([A, B, C], S).
dashed(S) :- sep(X), join(X, [a, b, c], S).
letters(L) :- str2lst(abc, L).
back(S) :- str2lst(abc, L), lst2str(L, S).
count(N) :- str2int("42", M), N is M + 1.
query(label(_)).
query(dashed(_)).
query(letters(_)).
query(back(_)).
query(count(_)).
