"""Programs to circuits: probabilities equal ProbLog's, fuzzy values equal direct evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, reject, settings
from tests.nesy_compile.programs import all_templates_program, problog, programs

from nesy_compile.examples import mnist_addition_carry, mnist_addition_standard, shipped, sudoku4
from nesy_compile.ground_program import atom_text
from nesy_compile.grounding import brute_force_probabilities, ground
from nesy_compile.program import parse_program
from nesy_compile.translate import translate
from nesy_ir.errors import NesyError

#: How long ProbLog may take on a random program before the program is set aside
PROBLOG_SECONDS = 30


def compiled(text: str, semantics: str = "prob", vtree: str = "balanced"):
    return translate(ground(parse_program(text)), semantics, vtree)


def assert_matches_problog(text: str, vtree: str = "balanced", seconds: float | None = None):
    expected = problog(text, seconds)
    got = compiled(text, vtree=vtree).probabilities()
    assert set(got) == set(expected)
    for key, p in expected.items():
        assert float(got[key]) == pytest.approx(p, abs=1e-9), key


@pytest.mark.parametrize("name", ["alarm", "reachability"])
@pytest.mark.parametrize("vtree", ["balanced", "right"])
def test_shipped_programs_match_problog(name, vtree):
    assert_matches_problog(shipped(name), vtree)


@settings(max_examples=25, deadline=None)
@given(programs())
def test_random_programs_match_problog(text):
    try:
        assert_matches_problog(text, seconds=PROBLOG_SECONDS)
    except TimeoutError:
        reject()  # ProbLog itself cannot answer this one in time: no reference


def test_all_templates_match_problog():
    assert_matches_problog(all_templates_program())


def test_circuit_is_shared_by_the_queries():
    cp = compiled(shipped("alarm"))
    assert cp.circuit.names == ("alarm", "calls")
    alarm, calls = cp.circuit.roots
    assert alarm in set(cp.circuit.nodes())  # one DAG, two roots
    assert cp.stats["circuit_nodes"] < 2 * 14  # shared, not two copies


def digit_labels(images, rng, domain=range(10)):
    return {
        f"digit(tensor({im}),{d})": p
        for im in images
        for d, p in zip(domain, rng.dirichlet(np.ones(len(domain))), strict=True)
    }


def test_mnist_addition_standard_matches_enumeration():
    rng = np.random.default_rng(0)
    labels = digit_labels(["a0", "b0"], rng)
    cp = compiled(mnist_addition_standard(1))
    got = cp.probabilities(labels)
    pa = np.array([labels[f"digit(tensor(a0),{d})"] for d in range(10)])
    pb = np.array([labels[f"digit(tensor(b0),{d})"] for d in range(10)])
    for s in range(19):
        expected = sum(pa[i] * pb[s - i] for i in range(10) if 0 <= s - i < 10)
        assert float(got[f"addition([tensor(a0)],[tensor(b0)],{s})"]) == pytest.approx(expected)


@pytest.mark.parametrize("vtree", ["right", "balanced"])
def test_mnist_addition_standard_circuit_is_the_sum_of_products(vtree):
    """sum over a + b = z of p_a(a) p_b(b): 20 leaves, 100 products, a sum for each of the 17
    sums z = 1..17 with more than one pair; the false alternatives (labelled one) fold away."""
    stats = compiled(mnist_addition_standard(1), vtree=vtree).circuit.stats()
    assert (stats["leaves"], stats["times"], stats["plus"]) == (20, 100, 17)


def test_queries_count_only_the_choices_they_mention():
    """A query independent of a choice gets that choice's total as a factor (not 1: the
    labels of a neural predicate need not sum to one), shared by the queries."""
    text = (
        "nn(net, [X], Y, [0, 1]) :: digit(X, Y).\n"
        "a :- digit(tensor(i), 1).\n"
        "b :- digit(tensor(j), 0).\n"
        "query(a). query(b).\n"
    )
    labels = {
        "digit(tensor(i),0)": 0.2,
        "digit(tensor(i),1)": 0.5,
        "digit(tensor(j),0)": 0.3,
        "digit(tensor(j),1)": 0.6,
    }
    got = compiled(text).probabilities(labels)
    assert float(got["a"]) == pytest.approx(0.5 * (0.3 + 0.6))
    assert float(got["b"]) == pytest.approx(0.3 * (0.2 + 0.5))


def test_mnist_addition_carry_matches_standard():
    """Digit i of the sum under the carry encoding = its marginal under the standard encoding."""
    rng = np.random.default_rng(1)
    labels = digit_labels(["a0", "a1", "b0", "b1"], rng)
    standard = compiled(mnist_addition_standard(2), vtree="right").probabilities(
        {
            k.replace("a0", "A")
            .replace("a1", "a0")
            .replace("A", "a1")
            .replace("b0", "B")
            .replace("b1", "b0")
            .replace("B", "b1"): v
            for k, v in labels.items()
        }
    )  # standard lists digits most significant first: a1 a0
    carry = compiled(mnist_addition_carry(2)).probabilities(labels)
    for position in range(3):
        for d in range(10):
            marginal = sum(
                float(p)
                for key, p in standard.items()
                if (int(key.rsplit(",", 1)[1].rstrip(")")) // 10**position) % 10 == d
            )
            assert float(carry.get(f"result({position},{d})", 0.0)) == pytest.approx(
                marginal, abs=1e-9
            )


def test_sudoku_validity_counts_latin_squares():
    """With uniform digits, P(valid) = (number of valid 4x4 Sudokus) / 4^16 = 288 / 4^16."""
    cells = [f"c{r}{c}" for r in range(4) for c in range(4)]
    labels = {f"digit(tensor({c}),{d})": 0.25 for c in cells for d in range(1, 5)}
    p = compiled(sudoku4()).probabilities(labels)["valid"]
    assert float(p) == pytest.approx(288 / 4**16)


def test_fuzzy_semantics_evaluates_the_rules_directly():
    godel = compiled(shipped("alarm"), "godel").probabilities()
    product = compiled(shipped("alarm"), "product").probabilities()
    assert float(godel["alarm"]) == pytest.approx(max(0.6, 0.3))
    assert float(godel["calls"]) == pytest.approx(max(min(0.6, 0.9), 0.1))
    a = 0.6 + 0.3 - 0.6 * 0.3
    assert float(product["calls"]) == pytest.approx(a * 0.9 + 0.1 - a * 0.9 * 0.1)


def test_brute_force_and_circuit_agree_on_reachability():
    gp = ground(parse_program(shipped("reachability")))
    expected = {atom_text(q): p for q, p in brute_force_probabilities(gp).items()}
    got = translate(gp).probabilities()
    assert {k: pytest.approx(v) for k, v in expected.items()} == {
        k: float(v) for k, v in got.items()
    }


def test_errors():
    with pytest.raises(NesyError, match="unknown semantics 'fuzzy'"):
        compiled(shipped("alarm"), "fuzzy")
    with pytest.raises(NesyError, match="no labels for the neural atoms digit"):
        compiled(mnist_addition_standard(1)).probabilities()
