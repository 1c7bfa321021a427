"""Relevant grounding: the ground program, its errors, and probabilities equal to ProbLog's."""

import dataclasses
import random

import pytest
from hypothesis import given, settings
from tests.nesy_compile.programs import (  # noqa: F401
    CORE,
    NODES,
    TEMPLATES,
    all_templates_program,
    problog,
    programs,
)

from nesy_compile.ground_program import Choice, GroundProgram, ProbFact, atom_text
from nesy_compile.grounding import (
    GroundingBudgetError,
    GroundingError,
    NonStratifiedError,
    UnknownPredicateError,
    UnsafeVariableError,
    brute_force_probabilities,
    ground,
    least_model,
)
from nesy_compile.program import parse_program
from nesy_ir.errors import NesyError
from nesy_ir.terms import TensorConst

ALARM = """\
0.1::burglary.
0.2::earthquake.
0.5::hears_alarm(john).
0.5::hears_alarm(mary).
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
"""

GRAPH = """\
0.5::edge(a,b). 0.6::edge(b,c). 0.7::edge(c,a). 0.2::edge(c,d). 0.9::edge(x,y).
path(X,Y) :- edge(X,Y).
path(X,Y) :- edge(X,Z), path(Z,Y).
"""


def a(pred, *args):
    return (pred, tuple(args))


def ours(text: str, gp: GroundProgram | None = None) -> dict[str, float]:
    gp = ground(parse_program(text)) if gp is None else gp
    return {atom_text(q): p for q, p in brute_force_probabilities(gp).items()}


def assert_same(text: str, gp: GroundProgram | None = None) -> None:
    expected, got = problog(text), ours(text, gp)
    assert set(got) == set(expected), (got, expected)
    for key, p in expected.items():
        assert got[key] == pytest.approx(p, abs=1e-9), key


# --- structure -----------------------------------------------------------------------------
def test_alarm_ground_program():
    gp = ground(parse_program(ALARM))
    assert gp.facts == [
        ProbFact(a("burglary"), 0.1),
        ProbFact(a("earthquake"), 0.2),
        ProbFact(a("hears_alarm", "john"), 0.5),
    ]
    assert gp.rules == {
        a("alarm"): [((a("burglary"), True),), ((a("earthquake"), True),)],
        a("calls", "john"): [((a("alarm"), True), (a("hears_alarm", "john"), True))],
    }
    assert gp.choices == [] and gp.queries == [a("calls", "john")]
    assert gp.strata == [[a("alarm"), a("calls", "john")]]
    assert brute_force_probabilities(gp)[a("calls", "john")] == pytest.approx(0.5 * 0.28)
    assert_same(ALARM)


def test_only_relevant_atoms():
    gp = ground(parse_program(GRAPH + "unrelated :- edge(x,y).\n"), ["path(b,c)"])
    atoms = {f.atom for f in gp.facts} | set(gp.rules)
    assert a("edge", "x", "y") not in atoms and a("unrelated") not in atoms
    assert a("edge", "c", "d") not in atoms  # path(d,c) has no proof: edge(c,d) is not needed
    assert gp.queries == [a("path", "b", "c")]


def test_cyclic_reachability_terminates_and_matches_problog():
    text = GRAPH + "query(path(a,X)).\nquery(path(d,a)).\n"
    gp = ground(parse_program(text))
    assert set(gp.queries) == {a("path", "a", y) for y in "abcd"} | {a("path", "d", "a")}
    assert gp.rules.get(a("path", "d", "a")) is None  # not provable: probability 0
    assert_same(text)
    left = text.replace("edge(X,Z), path(Z,Y)", "path(X,Z), edge(Z,Y)")
    assert_same(left)


def test_deterministic_facts_and_duplicates():
    text = "e(1,2). e(2,3). e(3,1). r(X,Y) :- e(X,Y). r(X,Y) :- r(X,Z), r(Z,Y). query(r(1,X))."
    gp = ground(parse_program(text))
    assert gp.rules[a("e", 1, 2)] == [()]
    assert all(len(set(bodies)) == len(bodies) for bodies in gp.rules.values())
    assert set(gp.queries) == {a("r", 1, y) for y in (1, 2, 3)}
    assert brute_force_probabilities(gp) == {q: 1.0 for q in gp.queries}


def test_stratified_negation():
    text = GRAPH + (
        "node(a). node(b). node(c). node(d).\n"
        "unreachable(X) :- node(X), \\+ path(a,X).\n"
        "lonely :- \\+ unreachable(b), \\+ path(b, b).\n"
        "query(unreachable(X)). query(lonely).\n"
    )
    gp = ground(parse_program(text))
    level = {atom: i for i, stratum in enumerate(gp.strata) for atom in stratum}
    for head, bodies in gp.rules.items():
        for body in bodies:
            for atom, positive in body:
                if atom in level:
                    assert level[atom] <= level[head] - (0 if positive else 1)
    assert level[a("lonely")] > level[a("unreachable", "b")] > level[a("path", "a", "b")]
    assert_same(text)


def test_negation_of_an_unprovable_atom_is_dropped():
    gp = ground(parse_program("p(1). q(X) :- p(X), \\+ p(2). query(q(1))."))
    assert gp.rules[a("q", 1)] == [((a("p", 1), True),)]


def test_non_stratified_negation():
    text = "0.5::c.\nwin :- c, \\+ lose.\nlose :- \\+ win.\nquery(win).\n"
    with pytest.raises(NonStratifiedError) as e:
        ground(parse_program(text, "game.pl"))
    message = str(e.value)
    assert "lose/0" in message and "win/0" in message and "game.pl:" in message


def test_annotated_disjunctions():
    text = (
        "0.3::color(X,red); 0.5::color(X,blue) :- item(X).\n"
        "item(1). item(2).\n"
        "same :- color(1,C), color(2,C).\n"
        "0.2::die(1); 0.3::die(2); 0.5::die(3).\n"
        "odd :- die(X), X mod 2 =:= 1.\n"
        "query(same). query(odd). query(color(1,blue)).\n"
    )
    gp = ground(parse_program(text))
    choice = next(c for c in gp.choices if c.atoms[0] == a("_ad0_1", 1))
    assert choice == Choice((a("_ad0_1", 1), a("_ad0_2", 1)), (0.3, 0.5))
    assert ((a("_ad0_2", 1), True), (a("item", 1), True)) in gp.rules[a("color", 1, "blue")]
    assert Choice((a("_ad1_1"), a("_ad1_2"), a("_ad1_3")), (0.2, 0.3, 0.5)) in gp.choices
    assert len(gp.choices) == 3
    assert_same(text)


def test_probabilistic_rules_and_facts():
    text = (
        "b(1). b(2).\n"
        "0.5::h :- b(Y).\n"  # one independent choice per grounding of the rule: 0.75
        "0.3::a. 0.5::a.\n"  # two independent facts for the same atom: 0.65
        "0.4::g :- h ; a.\n"  # one choice for a disjunctive body
        "0.2::p(X). q :- p(1).\n"
        "query(h). query(a). query(g). query(q).\n"
    )
    gp = ground(parse_program(text))
    assert ProbFact(a("_rule2", 1), 0.5) in gp.facts
    assert ((a("_rule2", 2), True), (a("b", 2), True)) in gp.rules[a("h")]
    assert ProbFact(a("p", 1), 0.2) in gp.facts
    assert_same(text)


@pytest.mark.filterwarnings("ignore:The use of:UserWarning")  # ProbLog on == and \\==
def test_arithmetic_and_builtins():
    text = (
        "n(1). n(2). n(3). n(-4).\n"
        "sq(X, Y) :- n(X), Y is X * X - 1 + 7 // 2 - 7 mod 3.\n"
        "big(X) :- n(X), X >= 2, X =\\= 3, X \\= 7.\n"
        "pair(X, Y) :- n(X), n(Y), X < Y, Y =< 2, X \\== Y, true.\n"
        "same(X) :- n(X), X = Y, Y == X, Z = f(X), Z = f(_).\n"
        "neg(X) :- n(X), \\+ X > 0.\n"
        "none :- fail.\n"
        "query(sq(X,Y)). query(big(X)). query(pair(X,Y)). query(same(X)). query(neg(X)).\n"
    )
    gp = ground(parse_program(text))
    assert a("sq", 3, 9 - 1 + 3 - 1) in gp.queries and a("sq", -4, 17) in gp.queries
    assert [q for q in gp.queries if q[0] == "big"] == [a("big", 2)]
    assert [q for q in gp.queries if q[0] == "neg"] == [a("neg", -4)]
    assert_same(text)


def test_queries_argument_and_compound_terms():
    text = "l([1,2]). l([3]). s(f(a), 1). 0.5::t(g(b)).\n"
    gp = ground(parse_program(text), ["l(X)", "s(f(X), N)", "t(Y)"])
    assert gp.queries == [a("l", "[1,2]"), a("l", "[3]"), a("s", "f(a)", 1), a("t", "g(b)")]
    assert gp.facts == [ProbFact(a("t", "g(b)"), 0.5)]
    assert ground(parse_program(text), ["l([5])"]).queries == [a("l", "[5]")]


# --- MNIST addition ------------------------------------------------------------------------
def test_mnist_one_digit():
    gp = ground(parse_program(MNIST), ["addition([tensor(a)], [tensor(b)], Z)"])
    assert gp.queries == [a("addition", "[tensor(a)]", "[tensor(b)]", s) for s in range(19)]
    assert len(gp.choices) == 2
    for choice, image in zip(gp.choices, "ab", strict=True):
        assert choice.net == "mnist_net" and choice.probabilities is None
        assert choice.inputs == (TensorConst(image),)
        assert choice.atoms == tuple(a("digit", TensorConst(image), d) for d in range(10))
    proofs = sum(len(gp.rules[q]) for q in gp.queries)
    assert proofs == 100
    assert gp.facts == []
    with pytest.raises(GroundingError, match="neural"):
        brute_force_probabilities(gp)


def test_mnist_probabilities_match_problog_with_digit_distributions():
    rng = random.Random(3)
    dists = {}
    for image in "ab":
        w = [rng.random() for _ in range(10)]
        dists[image] = [x / sum(w) for x in w]
    gp = ground(parse_program(MNIST), ["addition([tensor(a)],[tensor(b)],Z)"])
    gp.choices = [
        dataclasses.replace(c, probabilities=tuple(dists[c.inputs[0].name])) for c in gp.choices
    ]
    ads = "".join(
        "; ".join(f"{p!r}::digit(tensor({img}),{d})" for d, p in enumerate(dist)) + ".\n"
        for img, dist in dists.items()
    )
    text = MNIST.split("\n", 1)[1] + ads + "query(addition([tensor(a)],[tensor(b)],Z)).\n"
    assert_same(text, gp)


def test_mnist_two_digits_and_tensor_names():
    gp = ground(
        parse_program(MNIST),
        ["addition([tensor(train(0)), tensor(train(1))], [tensor(train(2)), tensor(x)], Z)"],
    )
    assert len(gp.queries) == 199
    assert [c.inputs for c in gp.choices] == [
        (TensorConst(n),) for n in ("train(0)", "train(1)", "train(2)", "x")
    ]


def test_neural_predicate_errors():
    with pytest.raises(UnsafeVariableError, match="unbound inputs"):
        ground(parse_program(MNIST), ["digit(X, 3)"])
    with pytest.raises(GroundingError, match="neural predicate"):
        ground(parse_program(MNIST + "digit(a, 1)."), ["digit(tensor(a), 1)"])


# --- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, error, line, words",
    [
        ("ok.\np(X, Y) :- q(X).\nq(1).\nquery(p(1, Y)).", UnsafeVariableError, 2, "Y"),
        ("q(1).\np(X) :- \\+ r(X), q(X).\nr(1).\nquery(p(_)).", UnsafeVariableError, 2, "\\+"),
        ("q(1).\np(X) :- q(X), X < Y.\nquery(p(1)).", UnsafeVariableError, 2, "comparison"),
        ("q(1).\np(X) :- Y is X + Z, q(Y).\nquery(p(1)).", UnsafeVariableError, 2, "'is'"),
        ("q(1).\n0.5::p :- q(1), X = Y.\nquery(p).", UnsafeVariableError, 2, "X, Y"),
        ("ok.\n\np :- missing(1).\nquery(p).", UnknownPredicateError, 3, "missing/1"),
        ("p :- X is a + 1, X > 0.\nquery(p).", GroundingError, 1, "arithmetic"),
        ("p :- X is 1 // 0, X > 0.\nquery(p).", GroundingError, 1, "division by zero"),
    ],
)
def test_errors_name_the_clause(text, error, line, words):
    with pytest.raises(error) as e:
        ground(parse_program(text, "bad.pl"))
    assert f"bad.pl:{line}:1" in str(e.value)
    assert words in str(e.value)
    assert isinstance(e.value, NesyError)


def test_unknown_query_predicate():
    with pytest.raises(UnknownPredicateError, match="<query>:1:1: unknown predicate nope/0"):
        ground(parse_program("a."), ["nope"])


def test_budgets():
    count = parse_program("count(N) :- M is N + 1, count(M).\nquery(count(0)).", "c.pl")
    with pytest.raises(GroundingBudgetError, match=r"c.pl:1:1: recursion deeper than max_depth=50"):
        ground(count, max_depth=50)
    nat = parse_program("nat(0).\nnat(s(X)) :- nat(X).\nquery(nat(X)).")
    with pytest.raises(GroundingBudgetError, match="more than max_atoms=100"):
        ground(nat, max_atoms=100)


# --- least model ---------------------------------------------------------------------------
def test_least_model():
    gp = ground(
        parse_program(GRAPH + "node(a). node(d). far(X) :- node(X), \\+ path(a,X).\n"), ["far(X)"]
    )
    edges = {a("edge", "a", "b"), a("edge", "b", "c"), a("edge", "c", "d")}
    model = least_model(gp, edges)
    assert a("path", "a", "d") in model and a("far", "a") in model and a("far", "d") not in model
    model = least_model(gp, {a("edge", "a", "b")})
    assert a("far", "d") in model and a("path", "a", "d") not in model


# --- random programs against ProbLog --------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(programs())
def test_random_programs_match_problog(text):
    assert_same(text)


def test_all_templates_match_problog():
    assert_same(all_templates_program(CORE))  # every world enumerated: the core templates


def test_first_argument_indexing_keeps_the_clauses_order():
    """Clauses tried by first argument (constants, compounds, variables mixed) still answer in
    program order: findall/3 lists them as ProbLog does."""
    facts = ["p(a, 1).", "0.5::p(X, 2) :- q(X).", "p(f(a), 3).", "p(a, 4).", "0.3::p(b, 5)."]
    facts += ["p(1, 6).", "p(1.0, 7).", "0.6::p(a, 8).", "p(f(b), 9).", "p(c, 10)."]
    text = (
        "\n".join(facts)
        + """
q(a). q(b). q(f(a)).
s(K, L) :- member(K, [a, b, f(a), 1, c]), findall(V, p(K, V), L).
member(X, [X|_]).
member(X, [_|T]) :- member(X, T).
query(s(_, _)).
"""
    )
    ours = {
        atom_text(a): p for a, p in brute_force_probabilities(ground(parse_program(text))).items()
    }
    assert {a: p for a, p in ours.items() if p > 0} == pytest.approx(problog(text))
