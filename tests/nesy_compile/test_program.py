"""The logic-program parser: structures, round trips, disjunction expansion and located errors."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nesy_compile.program import (
    AnnotatedDisjunction,
    Clause,
    Float,
    Int,
    Neg,
    NeuralPredicate,
    Program,
    Query,
    Struct,
    Var,
    load_program,
    parse_program,
    parse_term,
    variables,
)
from nesy_ir.errors import NesySyntaxError

ALARM = """\
% the alarm (source 003, section 2)
0.1::burglary.
0.2::earthquake.
0.5::hears_alarm(john).
alarm :- burglary.
alarm :- earthquake.
calls(X) :- alarm, hears_alarm(X).
query(calls(john)).
"""

MNIST = """\
nn(mnist_net,[X],Y,[0,1,2,3,4,5,6,7,8,9])::digit(X,Y).
number([],Result,Result).
number([H|T],Acc,Result) :- digit(H,Nr), Acc2 is Nr+10*Acc, number(T,Acc2,Result).
number(X,Y) :- number(X,0,Y).
addition(X,Y,Z) :- number(X,X2), number(Y,Y2), Z is X2+Y2.
query(addition([tensor(a)],[tensor(b)],Z)).
"""


def c(name, *args):
    return Struct(name, tuple(args))


def lst(*items, tail=None):
    out = tail if tail is not None else c("[]")
    for item in reversed(items):
        out = c(".", item, out)
    return out


X, Y, Z = Var("X"), Var("Y"), Var("Z")


def test_alarm_structure():
    p = parse_program(ALARM, "alarm.pl")
    facts = [cl for cl in p.clauses if cl.probability is not None]
    assert [(f.head, f.probability) for f in facts] == [
        (c("burglary"), 0.1),
        (c("earthquake"), 0.2),
        (c("hears_alarm", c("john")), 0.5),
    ]
    rules = [cl for cl in p.clauses if cl.probability is None]
    assert rules[2] == Clause(c("calls", X), (c("alarm"), c("hears_alarm", X)))
    assert p.queries == (Query(c("calls", c("john"))),)
    assert (rules[2].location.source, rules[2].location.line, rules[2].location.column) == (
        "alarm.pl",
        7,
        1,
    )
    assert str(rules[2].location) == "alarm.pl:7:1"


def test_mnist_structure():
    p = parse_program(MNIST)
    (nn,) = p.neural
    assert nn == NeuralPredicate(
        "mnist_net", (X,), Y, tuple(Int(i) for i in range(10)), c("digit", X, Y)
    )
    acc2, nr, acc = Var("Acc2"), Var("Nr"), Var("Acc")
    recursive = p.clauses[1]
    assert recursive.head == c("number", lst(Var("H"), tail=Var("T")), acc, Var("Result"))
    assert recursive.body[1] == c("is", acc2, c("+", nr, c("*", Int(10), acc)))
    assert p.queries[0].atom == c("addition", lst(c("tensor", c("a"))), lst(c("tensor", c("b"))), Z)
    assert p.clauses[0].head == c("number", c("[]"), Var("Result"), Var("Result"))


@pytest.mark.parametrize("text", [ALARM, MNIST])
def test_round_trip_examples(text):
    p = parse_program(text)
    assert parse_program(str(p)) == p
    assert str(parse_program(str(p))) == str(p)


def test_terms_operators_and_lists():
    assert parse_term("X is 3 - -2 mod 4") == c("is", X, c("-", Int(3), c("mod", Int(-2), Int(4))))
    assert parse_term("(1 + 2) * 3") == c("*", c("+", Int(1), Int(2)), Int(3))
    assert parse_term("1 - 2 - 3") == c("-", c("-", Int(1), Int(2)), Int(3))
    assert parse_term("- X") == c("-", X)
    assert parse_term("[a, b | T]") == lst(c("a"), c("b"), tail=Var("T"))
    assert parse_term("[]") == c("[]")
    assert parse_term("'Hello world'(0.5, -1.5e3)") == c("Hello world", Float(0.5), Float(-1500.0))
    assert parse_term("tensor(train(0))") == c("tensor", c("train", Int(0)))
    for op in ["<", "=<", ">", ">=", "=:=", "=\\=", "=", "\\=", "==", "\\=="]:
        assert parse_term(f"X {op} Y") == c(op, X, Y)


def test_anonymous_variables_are_distinct():
    (cl,) = parse_program("p(X) :- q(X, _, _).").clauses
    a, b = cl.body[0].args[1:]
    assert isinstance(a, Var) and isinstance(b, Var) and a != b


def test_disjunction_expands_into_clauses():
    p = parse_program("a :- b ; c, d.\nq :- (r ; s), t.")
    assert [cl.body for cl in p.clauses] == [
        (c("b"),),
        (c("c"), c("d")),
        (c("r"), c("t")),
        (c("s"), c("t")),
    ]
    assert p.clauses[1].location.line == 1 and p.clauses[3].location.line == 2


def test_negation():
    (cl,) = parse_program("a :- \\+ b, \\+ (c ; d), \\+ \\+ e, \\+(f).").clauses
    assert cl.body == (Neg(c("b")), Neg(c("c")), Neg(c("d")), c("e"), Neg(c("f")))


def test_probabilistic_rules_and_disjunctions():
    p = parse_program("0.3::a :- b.\n0.2::x(1); 0.5::x(2) :- c.\n0.4::y; 0.6::z.\n1::one.")
    assert p.clauses[0] == Clause(c("a"), (c("b"),), 0.3)
    assert p.clauses[1] == Clause(c("one"), (), 1.0)
    assert p.disjunctions == (
        AnnotatedDisjunction((c("x", Int(1)), c("x", Int(2))), (0.2, 0.5), (c("c"),)),
        AnnotatedDisjunction((c("y"), c("z")), (0.4, 0.6)),
    )


def test_probabilistic_body_with_disjunction_gets_a_helper():
    p = parse_program("0.5::h(X) :- b(X, Y) ; c(X).")
    helper = c("_body0", X, Y)
    assert p.clauses == (
        Clause(helper, (c("b", X, Y),)),
        Clause(helper, (c("c", X),)),
        Clause(c("h", X), (helper,), 0.5),
    )
    assert parse_program(str(p)) == p


def test_variables_in_order():
    assert variables(parse_term("f(Y, g(X, Y), Z)")) == [Y, X, Z]


def test_load_program(tmp_path):
    path = tmp_path / "alarm.pl"
    path.write_text(ALARM)
    p = load_program(path)
    assert p == parse_program(ALARM)
    assert p.source == str(path)
    bad = tmp_path / "bad.pl"
    bad.write_text("a.\nb :- c\n")
    with pytest.raises(NesySyntaxError) as e:
        load_program(bad)
    assert e.value.source == str(bad)
    assert f"{bad}:2:7" in str(e.value)


@pytest.mark.parametrize(
    "text, line, column, words",
    [
        ("a :- b\nc.", 1, 7, "missing '.'"),
        ("a :- b", 1, 7, "missing '.'"),
        ("a :- b(c, d.\n", 1, 12, "unbalanced parenthesis"),
        ("a :- b(c)).", 1, 10, "unbalanced parenthesis"),
        ("a :- [b, c.", 1, 11, "unbalanced parenthesis"),
        ("ok.\n1.5::a.", 2, 1, "probability 1.5"),
        ("ok.\n  -0.2::a.", 2, 3, "probability -0.2"),
        ("0.6::a; 0.5::b.", 1, 1, "sum to 1.1 > 1"),
        ("0.6::a; b.", 1, 9, "needs a probability"),
        ("a :- b & c.", 1, 8, "unexpected character"),
        ("a :- 'b.", 1, 6, "unterminated"),
        ("X :- b.", 1, 1, "head must be an atom"),
        ("X is 1.", 1, 1, "built-in is/2"),
        ("a :- 3.", 1, 3, "not a goal"),
        ("a.\nt(sum<X>).", 2, 1, "the last argument of the head of a rule"),
        (":- initialization(main).", 1, 1, "unknown directive"),
        ("nn(net, X, Y, [0,1]) :: d(X, Y).", 1, 1, "must be lists"),
        ("nn(net, [X], Y, [0,1]) :: d(X, Y) :- b.", 1, 1, "no body"),
        ("foo(1) :: a.", 1, 1, "probability or nn"),
    ],
)
def test_syntax_errors_are_located(text, line, column, words):
    with pytest.raises(NesySyntaxError) as e:
        parse_program(text, "prog.pl")
    err = e.value
    assert (err.source, err.line, err.column) == ("prog.pl", line, column)
    assert words in str(err)
    assert f"prog.pl:{line}:{column}:" in str(err)


# --- random round trips --------------------------------------------------------------------
NAMES = st.sampled_from(["a", "foo", "b1", "x_y", "Hello", "it's", "two words", "", "[]", "+"])
VARS = st.sampled_from(["X", "Y", "Acc2", "_T"]).map(Var)
ATOMIC = st.one_of(
    VARS,
    NAMES.map(Struct),
    st.integers(-1000, 1000).map(Int),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).map(Float),
)


def _compound(children):
    return st.one_of(
        st.builds(
            lambda f, a: Struct(f, tuple(a)), NAMES, st.lists(children, min_size=1, max_size=3)
        ),
        st.builds(
            lambda op, a, b: Struct(op, (a, b)),
            st.sampled_from(["+", "-", "*", "//", "mod"]),
            children,
            children,
        ),
        st.builds(
            lambda items, tail: lst(*items, tail=tail),
            st.lists(children, max_size=3),
            st.one_of(st.none(), VARS),
        ),
    )


TERMS = st.recursive(ATOMIC, _compound, max_leaves=8)
ATOMS = st.builds(
    lambda f, a: Struct(f, tuple(a)),
    st.sampled_from(["p", "q", "Quoted one", "r2"]),
    st.lists(TERMS, max_size=3),
)


def _grounded(t):
    """``t`` with each variable replaced by the constant ``v``: a negated goal whose variables
    occur nowhere else means "for no values" (a helper predicate), not what it prints as."""
    if isinstance(t, Var):
        return Struct("v")
    if isinstance(t, Struct):
        return Struct(t.functor, tuple(_grounded(a) for a in t.args))
    return t


LITERALS = st.one_of(
    ATOMS,
    ATOMS.map(lambda a: Neg(_grounded(a))),
    st.builds(
        lambda op, a, b: Struct(op, (a, b)),
        st.sampled_from(["is", "<", "=<", "=:=", "=", "\\=", "=="]),
        TERMS,
        TERMS,
    ),
)
PROBS = st.sampled_from([0.0, 0.1, 0.25, 1.0, 1e-05])


@given(
    st.lists(
        st.builds(
            Clause, ATOMS, st.lists(LITERALS, max_size=3).map(tuple), st.one_of(st.none(), PROBS)
        ),
        max_size=4,
    ),
    st.lists(
        st.builds(
            lambda heads, body: AnnotatedDisjunction(
                tuple(heads), (0.25,) * len(heads), tuple(body)
            ),
            st.lists(ATOMS, min_size=2, max_size=3),
            st.lists(LITERALS, max_size=2),
        ),
        max_size=2,
    ),
    st.lists(ATOMS.map(Query), max_size=2),
)
def test_random_round_trip(clauses, disjunctions, queries):
    program = Program(tuple(clauses), tuple(disjunctions), (), tuple(queries))
    assert parse_program(str(program)) == program
