% construct: hexadecimal integers (0x10)
0.5::go.
v(hex, X) :- go, X = 0x10.
v(sum, X) :- go, X is 0x10 + 0xff.
query(v(_, _)).
