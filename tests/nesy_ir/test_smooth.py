"""Smoothing weighted d-DNNF circuits, and the smoothness/decomposability/determinism checkers."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nesy_ir import Var, aggregate, apply, atom, const, to_circuit, transform
from nesy_ir.circuit import Circuit
from nesy_ir.evaluate import evaluate_circuit
from nesy_ir.smooth import (
    is_decomposable,
    is_deterministic,
    is_smooth,
    smooth,
    smoothing_cost,
    variables,
)


def cnf_wmc(n: int, m: int, rng: np.random.Generator, structure: str = "prob"):
    """sum_X tau(CNF(X)) * w0[X0] * ... : weighted model counting of a random 3-CNF."""
    xs = [Var(f"X{i}") for i in range(n)]
    lits = [atom(f"a{i}", (), "bool", x) for i, x in enumerate(xs)]
    cnf = None
    for _ in range(m):
        chosen = rng.choice(n, 3, replace=False)
        clause = apply("plus", *(lits[v] if rng.random() < 0.5 else ~lits[v] for v in chosen))
        cnf = clause if cnf is None else cnf * clause
    body = transform(cnf, structure)
    for i, x in enumerate(xs):
        body = body * atom(f"w{i}", (), structure, x)
    for x in reversed(xs):
        body = aggregate("sum", x, "bool", body)
    return body, cnf


def models(cnf, n: int) -> list[tuple[bool, ...]]:
    from nesy_ir.evaluate import evaluate

    env_of = lambda values: {f"X{i}": v for i, v in enumerate(values)}  # noqa: E731
    return [w for w in product((False, True), repeat=n) if evaluate(cnf, {}, env_of(w))]


def wp(i: int, value: bool) -> object:
    return atom(f"w{i}", (), "prob", value)


def value(circuit: Circuit, labels) -> np.ndarray:
    return evaluate_circuit(circuit, labels)["root0"]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(3, 7), seed=st.integers(0, 2**16))
def test_compiled_cnf_becomes_smooth_and_keeps_its_value(n, seed):
    rng = np.random.default_rng(seed)
    f, cnf = cnf_wmc(n, 2 * n, rng)
    circuit = to_circuit(f)  # a weighted d-DNNF over w_i[true], w_i[false]: rarely smooth
    assert is_decomposable(circuit) and is_deterministic(circuit) is True
    smoothed = smooth(circuit)
    assert is_smooth(smoothed) and is_decomposable(smoothed)
    assert is_deterministic(smoothed) is True
    assert smooth(smoothed).roots == smoothed.roots  # idempotent
    cost = smoothing_cost(circuit)
    assert (cost["nodes"] == 0) == is_smooth(circuit) and cost["nodes"] >= 0

    p = {f"w{i}": rng.uniform(size=4) for i in range(n)}
    assert np.allclose(value(smoothed, p), value(circuit, p))  # normalised: value kept

    # unnormalised weights: the smoothed circuit counts the models (times the sums of the
    # variables the root does not mention); the unsmoothed one relies on normalisation
    explicit = {**p, **{f"w{i}[false]": rng.uniform(size=4) for i in range(n)}}
    weight = lambda i, v: explicit[f"w{i}" if v else f"w{i}[false]"]  # noqa: E731
    wmc = sum(np.prod([weight(i, v) for i, v in enumerate(w)], axis=0) for w in models(cnf, n))
    mentioned = {predicate for predicate, _ in variables(smoothed)[smoothed.roots[0]]}
    absent = [i for i in range(n) if f"w{i}" not in mentioned]
    scale = np.prod([weight(i, True) + weight(i, False) for i in absent], axis=0)
    assert np.allclose(value(smoothed, explicit) * scale, wmc)


@pytest.mark.parametrize("seed", range(4))
def test_logprob_circuit_smoothing_keeps_value(seed):
    rng = np.random.default_rng(seed)
    f, _ = cnf_wmc(5, 9, rng, "logprob")
    circuit = to_circuit(f)
    smoothed = smooth(circuit)
    assert is_smooth(smoothed) and is_deterministic(smoothed) is True
    labels = {f"w{i}": np.log(rng.uniform(0.01, 1.0, size=3)) for i in range(5)}
    assert np.allclose(value(smoothed, labels), value(circuit, labels))


def test_small_ddnnf_by_hand():
    # a + ~a * b as a d-DNNF: w0[true] + w0[false] * w1[true]
    circuit = Circuit(wp(0, True) + wp(0, False) * wp(1, True))
    assert not is_smooth(circuit) and is_decomposable(circuit)
    assert is_deterministic(circuit) is True
    smoothed = smooth(circuit)
    (root,) = smoothed.roots
    assert root.children[0] == wp(0, True) * (wp(1, True) + wp(1, False))
    assert is_smooth(smoothed)
    assert smoothing_cost(circuit) == {"nodes": 3, "edges": 4}
    for p0, p1 in [(0.3, 0.6), (0.0, 1.0), (0.9, 0.2)]:
        labels = {"w0": p0, "w1": p1}
        assert np.isclose(value(smoothed, labels), value(circuit, labels))


def test_smoothing_gives_max_product_its_meaning():
    """In max-product v[true] (+) v[false] = max(p, 1 - p) is not one: the unsmoothed circuit
    is wrong and the smoothed one gives the most probable model of a + ~a * b."""
    a = [atom("a", (), "maxprod", v) for v in (True, False)]
    b = [atom("b", (), "maxprod", v) for v in (True, False)]
    circuit = Circuit(a[0] + a[1] * b[0])
    labels = {"a": 0.6, "b": 0.3}
    best = max(0.6 * 0.3, 0.6 * 0.7, 0.4 * 0.3)  # the models: a b, a ~b, ~a b
    assert not np.isclose(value(circuit, labels), best)
    assert np.isclose(value(smooth(circuit), labels), best)


def test_smoothing_across_a_transformation():
    """The sum of a variable whose leaves live in prob is moved into a logprob (+) node."""
    a = [atom("a", (), "prob", v) for v in (True, False)]
    b = [atom("b", (), "prob", v) for v in (True, False)]
    root = transform(a[0] * b[0], "logprob") + transform(a[1], "logprob")
    circuit = Circuit(root)
    smoothed = smooth(circuit)
    assert is_smooth(smoothed)
    assert smoothed.roots[0].children[1].children[1] == transform(b[0] + b[1], "logprob")
    labels = {"a": [0.2, 0.9], "b": [0.5, 0.1]}
    assert np.allclose(value(smoothed, labels), value(circuit, labels))


def test_checkers_on_bad_circuits():
    a, not_a, b = wp(0, True), wp(0, False), wp(1, True)
    assert not is_decomposable(Circuit(a * not_a))
    assert is_deterministic(Circuit(a + b)) is False
    assert is_deterministic(Circuit(a + ~a)) is False  # negation: non-zero anywhere
    assert is_deterministic(Circuit(a + not_a * const(0.0, "prob"))) is True  # zero weight
    assert is_deterministic(Circuit(a + not_a * const(0.5, "prob"))) is True
    assert is_deterministic(Circuit(a + const(0.5, "prob"))) is False
    wide = apply("times", *(wp(i, True) for i in range(1, 4)))
    assert is_deterministic(Circuit(a + not_a * wide), max_vars=3) is None
    assert is_deterministic(Circuit(a + not_a * wide), max_vars=4) is True
    assert is_deterministic(Circuit([a + b, a + not_a * wide]), max_vars=2) is False


def test_variables_and_constants():
    p = atom("p", ("x", 1), "prob", True)
    q = atom("q", (), "prob")  # unreified: a weight, not a variable
    t = transform(atom("c", (), "bool", True), "prob")  # a reified Boolean atom is a constant
    circuit = Circuit(p * q + atom("p", ("x", 1), "prob", False) * t)
    vs = variables(circuit)
    assert vs[circuit.roots[0]] == {("p", ("x", 1))}
    assert vs[q] == vs[t] == frozenset()
    assert is_smooth(circuit) and is_deterministic(circuit) is True
    assert smooth(circuit).roots == circuit.roots
