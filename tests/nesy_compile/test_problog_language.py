"""The parts of ProbLog's language that the corpus (test_problog_corpus.py) does not pin down:
what is refused, and where it says so; the values of the new built-ins against known answers."""

from __future__ import annotations

import pytest

from nesy_compile.grounding import GroundingError, brute_force_probabilities, ground
from nesy_compile.program import parse_program
from nesy_ir.errors import NesyError


def answers(text: str) -> dict[str, float]:
    """Each query atom's probability, by enumerating the possible worlds."""
    from nesy_compile.ground_program import atom_text

    probabilities = brute_force_probabilities(ground(parse_program(text, "prog.pl")))
    return {atom_text(a): p for a, p in probabilities.items()}


@pytest.mark.parametrize(
    "text, where, words",
    [
        (":- initialization(main).", "prog.pl:1:1", "unknown directive"),
        (":- use_module(library(nope)).", "prog.pl:1:1", "aggregate, apply, lists, string"),
        ("t(sum<X>) :- p(X).", "prog.pl:1:1", "needs ':- use_module(library(aggregate)).'"),
        ("t(sum<X>).", "prog.pl:1:1", "the last argument of the head of a rule"),
        ("t(sum<X>, a) :- p(X).", "prog.pl:1:1", "the last argument of the head of a rule"),
        ("forall(a, b) :- c.", "prog.pl:1:1", "cannot define the built-in forall/2"),
        (":- consult(missing_file).", "prog.pl:1:1", "cannot consult missing_file"),
        ("2/3 + 1::a.", "prog.pl:1:1", "probability 1.66667 is not in [0, 1]"),
        ("a :- (b -> c ; d).", "prog.pl:1:3", "if-then-else"),
        ("call(x).", "prog.pl:1:1", "cannot define the built-in call/1"),
    ],
)
def test_refused_where_written(text, where, words):
    with pytest.raises(NesyError) as e:
        parse_program(text, "prog.pl")
    assert where in str(e.value) and words in str(e.value)


@pytest.mark.parametrize(
    "text, words",
    [
        ("q(1) :- a.\nq(1).\n0.5::a.\np(L) :- findall(X, q(X), L).\nquery(p(_)).", "proofs"),
        ("q(1).\np(L) :- G = findall(X, q(X), L), call(G).\nquery(p(_)).", "through call/1"),
        (
            "q(1).\np(N) :- q(N).\np(N) :- findall(X, p(X), L), length(L, N).\nquery(p(_)).",
            "prog.pl:3:1: findall/3 is not stratified",
        ),
        ("w(a, 2).\nP::h(X) :- w(X, P).\nquery(h(a)).", "probability 2 = 2 is not in [0, 1]"),
        ("p :- call(G).\nquery(p).", "call/1 of an unbound goal"),
        ("0.5::c(1).\np(X) :- once(c(X)).\nquery(p(_)).", "once/1 of a goal with unbound"),
        ("p(N) :- length(L, N).\nquery(p(_)).", "length/2 of a list of unknown length"),
        ("nat(0).\nnat(s(X)) :- nat(X).\nquery(nat(_)).", "prog.pl:2:1: more than max_atoms"),
    ],
)
def test_refused_when_grounded(text, words):
    with pytest.raises(GroundingError, match=None) as e:
        ground(parse_program(text, "prog.pl"), max_atoms=1000)
    assert words in str(e.value) and "prog.pl:" in str(e.value)


def test_new_builtins_against_known_answers():
    text = """
    0.5::ok(a). 0.4::ok(b).
    t1 :- X = f(a, b), X =.. [f|Args], length(Args, 2).
    t2 :- functor(T, g, 2), arg(2, T, z), T = g(_, z).
    t3 :- msort([c, 1, b(x), 2.0, a], L), L == [1, 2.0, a, c, b(x)].
    t4 :- sort([b, a, b], [a, b]), compare(O, 1, a), O == '<', a @< b, f(a) @> z.
    t5 :- between(1, 3, X), X > 2, succ(X, 4), succ(2, X).
    t6(N) :- between(1, 4, N), \\+ (N mod 2 =:= 0).
    t7 :- atom(a), number(1.5), integer(3), var(_), is_list([1]), \\+ is_list(f), ground(f(a)).
    t8 :- call(ok, a), not(ok(b)).
    t9 :- X is max(3, 2) ** 2 + 0x10 - 7 // 2, X =:= 22.
    q(X) :- "text" = X.
    query(t1). query(t2). query(t3). query(t4). query(t5). query(t6(_)). query(t7).
    query(t8). query(t9). query(q(_)).
    """
    got = answers(text)
    assert got == pytest.approx(
        {
            "t1": 1.0,
            "t2": 1.0,
            "t3": 1.0,
            "t4": 1.0,
            "t5": 1.0,
            "t6(1)": 1.0,
            "t6(3)": 1.0,
            "t7": 1.0,
            "t8": 0.5 * 0.6,
            "t9": 1.0,
            'q("text")': 1.0,
        }
    )


def test_collections_and_negated_conjunctions_against_known_answers():
    """Beyond what ProbLog 2 runs (it cannot call a conjunction): \\+ of a conjunction, forall/2
    with a conjunctive action, findall/3 nested in a findall/3's goal (in solution order)."""
    text = """
    0.4::a. 0.7::b.
    0.5::likes(ann, tea). 0.6::likes(bob, tea). 0.2::likes(bob, coffee).
    person(ann). person(bob).
    0.3::has(tea). 0.9::has(coffee).
    0.6::e(x, y). e(y, z).
    not_both :- \\+ (a, b).
    served :- forall(person(P), (likes(P, D), has(D))).
    out(S) :- findall(X-L, (member(X, [x, y, z]), findall(Y, e(X, Y), L)), S).
    member(X, [X|_]).
    member(X, [_|T]) :- member(X, T).
    query(not_both). query(served). query(out(_)).
    """
    bob = 1 - (1 - 0.6) * (1 - 0.2 * 0.9)  # given has(tea): tea or coffee
    possible = {a: p for a, p in answers(text).items() if p > 0}  # lists no world makes
    assert possible == pytest.approx(
        {
            "not_both": 1 - 0.4 * 0.7,
            "served": 0.5 * 0.3 * bob,
            "out([x-[y],y-[z],z-[]])": 0.6,
            "out([x-[],y-[z],z-[]])": 0.4,
        }
    )


def test_consult_reads_a_file_beside_the_program(tmp_path):
    (tmp_path / "facts.pl").write_text("0.3::edge(a, b).\n")
    main = tmp_path / "main.pl"
    main.write_text(":- consult(facts).\n:- consult('facts.pl').\nquery(edge(a, b)).\n")
    from nesy_compile.program import load_program

    program = load_program(main)
    assert len(program.clauses) == 1  # read once, however often consulted
    assert answers(str(program)) == pytest.approx({"edge(a,b)": 0.3})


def test_unknown_fail_makes_an_undefined_predicate_fail():
    text = ":- unknown(fail).\n0.5::a.\np :- a.\np :- undefined.\nquery(p).\n"
    assert answers(text) == pytest.approx({"p": 0.5})
    with pytest.raises(GroundingError, match="unknown predicate undefined/0"):
        ground(parse_program(text.replace(":- unknown(fail).\n", ""), "prog.pl"))
