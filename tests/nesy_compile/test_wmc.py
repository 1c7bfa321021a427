"""Weighted model counting: the compiled circuit's value is the brute-force count, in every
structure and for every vtree; the DeepLog formula itself evaluates to it too."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nesy_compile.cnf import CNF
from nesy_compile.sdd import CompileBudgetError, SddBridge
from nesy_compile.wmc import (
    _labelling,
    _wmc_over,
    brute_force_wmc,
    cnf_bool_formula,
    compile_cnf,
    wmc_formula,
)
from nesy_ir import evaluate, evaluate_circuit
from nesy_ir.errors import LabelError, NesyError
from nesy_ir.nodes import Kind
from nesy_ir.rewrite import Context, to_circuit


@st.composite
def cnfs(draw, max_vars: int = 10, real: bool = False) -> CNF:
    n = draw(st.integers(1, max_vars))
    lits = st.integers(1, n).flatmap(lambda v: st.sampled_from((v, -v)))
    clauses = draw(st.lists(st.lists(lits, min_size=1, max_size=4).map(tuple), max_size=3 * n))
    low = -2.0 if real else 0.0
    high = 2.0 if real else 1.0
    weight = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(low, high))
    weights: dict[int, float] = {}
    for v in range(1, n + 1):
        kind = draw(st.sampled_from(["none", "pos", "both", "normalised"]))
        if kind in ("pos", "both"):
            weights[v] = draw(weight)
        if kind == "both":
            weights[-v] = draw(weight)
        if kind == "normalised":
            weights[v] = draw(weight)
            weights[-v] = 1.0 - weights[v]
    return CNF(n, tuple(clauses), weights)


def value(cnf: CNF, structure: str, vtree: str) -> float:
    circuit, labels, stats = compile_cnf(cnf, structure, vtree)
    assert not any(n.kind is Kind.AGG for n in circuit.nodes())
    out = float(evaluate_circuit(circuit, labels)["wmc"])
    return math.exp(out) if structure == "logprob" else out


@pytest.mark.parametrize("vtree", ["balanced", "right"])
@pytest.mark.parametrize("structure", ["prob", "logprob"])
@given(cnf=cnfs())
def test_compiled_wmc_is_the_brute_force_count(cnf, structure, vtree):
    assert value(cnf, structure, vtree) == pytest.approx(brute_force_wmc(cnf), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("vtree", ["balanced", "right"])
@given(cnf=cnfs(real=True))
def test_compiled_wmc_with_real_weights(cnf, vtree):
    assert value(cnf, "real", vtree) == pytest.approx(brute_force_wmc(cnf), rel=1e-9, abs=1e-9)


@given(cnfs(max_vars=5))
def test_the_formula_itself_evaluates_to_the_count(cnf):
    formula, labels = wmc_formula(cnf, "prob")
    assert float(evaluate(formula, labels)) == pytest.approx(brute_force_wmc(cnf), abs=1e-12)


def test_unused_variables_and_unnormalised_weights_multiply_in():
    cnf = CNF(3, ((1,),), {1: 0.5, -1: 0.5, 2: 0.25, -2: 0.25, 3: 0.3})
    assert brute_force_wmc(cnf) == pytest.approx(0.5 * 0.5 * 1.3)
    assert value(cnf, "prob", "balanced") == pytest.approx(0.5 * 0.5 * 1.3)
    assert value(CNF(2, (), {}), "real", "right") == 4.0  # model counting


def test_unsatisfiable_and_valid_cnfs():
    unsat = CNF(3, ((1,), (-1,)), {1: 0.4, -1: 0.6})
    assert value(unsat, "prob", "balanced") == 0.0
    circuit, labels, _ = compile_cnf(unsat, "logprob")
    assert float(evaluate_circuit(circuit, labels)["wmc"]) == -np.inf
    assert value(CNF(1, ((1, -1),), {1: 0.4, -1: 0.6}), "prob", "right") == pytest.approx(1.0)
    assert value(CNF(2, ((),), {}), "real", "balanced") == 0.0  # the empty clause


def test_structures_check_their_weights():
    cnf = CNF(1, ((1,),), {1: 1.5, -1: -0.5})
    with pytest.raises(LabelError, match="weight 1.5 of literal 1 is outside"):
        compile_cnf(cnf, "prob")
    with pytest.raises(LabelError, match="outside"):
        wmc_formula(cnf, "logprob")
    assert value(cnf, "real", "balanced") == 1.5
    with pytest.raises(NesyError, match="unknown structure 'godel'"):
        wmc_formula(cnf, "godel")


def test_the_formula_is_the_deeplog_wmc():
    cnf = CNF(2, ((1, -2),), {1: 0.3, -1: 0.7})
    formula, labels = wmc_formula(cnf, "prob")
    text = str(formula)
    assert text.startswith("sum X1 in bool: sum X2 in bool: tau[bool->prob](")
    assert "x1[X1]@prob * x2[X2]@prob" in text
    assert str(cnf_bool_formula(cnf)) == "x1[X1]@bool + ~x2[X2]@bool"


def test_statistics_before_and_after_rewriting():
    small = CNF(4, ((1, 2), (-2, 3), (3, 4)), {})
    _, _, stats = compile_cnf(small, "real")
    assert stats["before"]["what"] == "enumeration"
    assert stats["before"]["nodes"] > stats["after"]["nodes"]
    assert stats["sdd_size"] > 0 and stats["sdd_nodes"] > 0 and stats["sdd_s"] >= 0
    big = CNF(13, tuple((i, -(i + 1)) for i in range(1, 13)), {})
    _, _, stats = compile_cnf(big, "real", "right")
    assert stats["before"] == {
        "what": "d-DNNF",
        "nodes": stats["ddnnf_nodes"],
        "edges": stats["ddnnf_edges"],
    }


def test_budget_reaches_compile_cnf():
    cnf = CNF(12, tuple((i, i + 1, -(i + 2)) for i in range(1, 11)), {})
    with pytest.raises(CompileBudgetError, match="compilation exceeded 2 SDD nodes"):
        compile_cnf(cnf, "real", size_budget=2)


def test_brute_force_refuses_large_inputs():
    with pytest.raises(ValueError, match="too many"):
        brute_force_wmc(CNF(30, (), {}))


def _random_3cnf(n: int, ratio: float, seed: int, structure: str) -> CNF:
    """A random 3-CNF as benchmarks/compile.py draws them; weights normalised for about half
    the variables, free (negative too, in real) for the others."""
    rng = random.Random(seed)
    clauses = tuple(
        tuple(v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), 3))
        for _ in range(round(ratio * n))
    )
    low = -1.0 if structure == "real" else 0.0
    weights: dict[int, float] = {}
    for v in range(1, n + 1):
        weights[v] = rng.uniform(low, 1.0)
        weights[-v] = 1.0 - weights[v] if rng.random() < 0.5 else rng.uniform(low, 1.0)
    return CNF(n, clauses, weights)


def _rewritten(cnf: CNF, structure: str, vtree: str):
    """The circuit of the generic rewrites (what compile_cnf built before it counted on the SDD
    itself): the DeepLog formula over the read-back d-DNNF, the SDD as determinism oracle."""
    bridge = SddBridge([f"X{i}" for i in range(1, cnf.num_vars + 1)], vtree)
    ddnnf = bridge.to_ir(bridge.to_sdd(cnf_bool_formula(cnf)))
    formula, labels = _wmc_over(ddnnf, cnf.num_vars, structure), _labelling(cnf, structure)
    ctx = Context(labelling=labels, exclusive=bridge.exclusive, deterministic=bridge.deterministic)
    return to_circuit(formula, ["wmc"], ctx=ctx)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(3, 16),
    st.sampled_from([1.0, 2.5, 4.3]),
    st.integers(0, 2**16),
    st.sampled_from(["prob", "logprob", "real"]),
    st.sampled_from(["balanced", "right", "vertical"]),
)
def test_random_3cnfs_count_as_brute_force_and_as_the_rewrites(n, ratio, seed, structure, vtree):
    cnf = _random_3cnf(n, ratio, seed, structure)
    expected = brute_force_wmc(cnf)
    assert value(cnf, structure, vtree) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    circuit, labels, _ = compile_cnf(cnf, structure, vtree)
    got = float(evaluate_circuit(circuit, labels)["wmc"])
    before = float(evaluate_circuit(_rewritten(cnf, structure, vtree), labels)["wmc"])
    assert got == pytest.approx(before, rel=1e-9, abs=1e-12)
