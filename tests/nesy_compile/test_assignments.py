"""Queries counted from their assignments, without an SDD: the values of the SDDs' counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from tests.nesy_compile.programs import problog, programs
from tests.nesy_compile.test_translate import digit_labels

from nesy_compile.examples import mnist_addition_carry, mnist_addition_standard, shipped
from nesy_compile.grounding import ground
from nesy_compile.program import parse_program
from nesy_compile.translate import translate


def assert_same_counts(text: str, labels: dict | None = None, vtree: str = "balanced"):
    """The program compiled with and without direct counting: equal probabilities. Returns
    both compiled programs (direct first)."""
    gp = ground(parse_program(text))
    direct, sdd = (translate(gp, "prob", vtree, direct=d) for d in (True, False))
    assert sdd.stats["direct_queries"] == 0
    got, expected = direct.probabilities(labels), sdd.probabilities(labels)
    assert set(got) == set(expected)
    for key, p in expected.items():
        assert float(got[key]) == pytest.approx(float(p), rel=1e-12, abs=1e-15), key
    return direct, sdd


@settings(max_examples=30, deadline=None)
@given(programs())
def test_random_programs_count_the_same_without_sdds(text):
    assert_same_counts(text)


@pytest.mark.parametrize("n", [1, 2])
def test_mnist_addition_standard_sums_are_counted_without_sdds(n):
    """Every sum is a disjunction of pairs of numbers: all counted directly, to the SDD's
    values, in a circuit no larger than the SDD's."""
    labels = digit_labels([f"{s}{i}" for s in "ab" for i in range(n)], np.random.default_rng(n))
    direct, sdd = assert_same_counts(mnist_addition_standard(n), labels, vtree="right")
    assert direct.stats["direct_queries"] == len(direct.queries) == 2 * 10**n - 1
    assert direct.stats["circuit_nodes"] <= sdd.stats["circuit_nodes"]
    assert direct.stats["circuit_edges"] <= sdd.stats["circuit_edges"]


FACTS_AND_CHOICES = """
0.3::a. 0.6::b.
0.2::c(1); 0.5::c(2).
both :- a, \\+b, c(1).
both :- \\+a, b, c(2).
again :- a, a, b.
again :- b, a.
either :- a.
either :- b.
other :- c(1), \\+c(2).
never :- c(1), c(2).
query(both). query(again). query(either). query(other). query(never).
"""


def test_assignments_of_facts_and_choices():
    """``both`` (two assignments of a, b, c) and ``again`` (one, written twice) are counted
    directly; ``either`` (a or b: different units), ``other`` (a negated alternative) and
    ``never`` (two alternatives of one choice: no assignment) are left to the SDD. All match
    ProbLog."""
    direct, _ = assert_same_counts(FACTS_AND_CHOICES)
    assert direct.stats["direct_queries"] == 2
    for key, p in problog(FACTS_AND_CHOICES).items():
        assert float(direct.probabilities()[key]) == pytest.approx(p, abs=1e-12), key


def test_cycles_evidence_and_large_forms_are_left_to_the_sdd():
    """Reachability on a cyclic graph, a program with evidence, and the carry encoding past
    its first digits (whose disjunctive normal form grows exponentially) compile their
    queries to SDDs, to the same values."""
    direct, _ = assert_same_counts(shipped("reachability"))
    paths = [q for q in direct.queries if q[0] == "path"]
    assert paths and direct.stats["direct_queries"] < len(direct.queries)
    cycle = (
        "0.5::edge(a,b). 0.6::edge(b,a).\npath(X,Y) :- edge(X,Y).\n"
        "path(X,Y) :- edge(X,Z), path(Z,Y).\nquery(path(a,a)).\n"
    )
    assert assert_same_counts(cycle)[0].stats["direct_queries"] == 0  # path(a,a) is below itself
    evidence = "0.4::a. 0.5::b.\nq :- a, b.\nevidence(a).\nquery(q).\n"
    assert assert_same_counts(evidence)[0].stats["direct_queries"] == 0
    labels = digit_labels([f"{s}{i}" for s in "ab" for i in range(4)], np.random.default_rng(0))
    direct, _ = assert_same_counts(mnist_addition_carry(4), labels)
    assert 0 < direct.stats["direct_queries"] < len(direct.queries)


NEURAL = """
nn(net, [X], Y, [0, 1, 2]) :: digit(X, Y).
0.4::f.
pair :- digit(tensor(i), 1), digit(tensor(j), 2).
pair :- digit(tensor(i), 2), digit(tensor(j), 1).
one :- digit(tensor(i), 1), f.
not_one :- \\+ digit(tensor(i), 1).
query(pair). query(one). query(not_one).
"""


def test_assignments_of_neural_predicates():
    """Alternatives of a neural predicate are counted directly (``pair``, ``one``, with the
    labels of the other image as a factor); a negated one (``not_one``: either other digit) is
    left to the SDD."""
    labels = digit_labels(["i", "j"], np.random.default_rng(3), range(3))
    direct, _ = assert_same_counts(NEURAL, labels)
    assert direct.stats["direct_queries"] == 2
    got = direct.probabilities(labels)
    i, j = ([labels[f"digit(tensor({x}),{d})"] for d in range(3)] for x in "ij")
    assert float(got["pair"]) == pytest.approx(i[1] * j[2] + i[2] * j[1])
    assert float(got["one"]) == pytest.approx(i[1] * 0.4 * sum(j))
