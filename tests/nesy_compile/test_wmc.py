"""Weighted model counting: the compiled circuit's value is the brute-force count, in every
structure and for every vtree; the DeepLog formula itself evaluates to it too."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nesy_compile.cnf import CNF
from nesy_compile.sdd import CompileBudgetError
from nesy_compile.wmc import brute_force_wmc, cnf_bool_formula, compile_cnf, wmc_formula
from nesy_ir import evaluate, evaluate_circuit
from nesy_ir.errors import LabelError, NesyError
from nesy_ir.nodes import Kind


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
