% construct: an unknown directive (:- foo.): must be refused
:- foo.
0.5::a.
query(a).
