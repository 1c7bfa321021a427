"""The PySDD bridge: IR -> SDD -> IR keeps the meaning and gives a d-DNNF; the exclusivity
oracle; budgets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nesy_compile.sdd import VTREES, CompileBudgetError, SddBridge, compile_formula
from nesy_ir import Circuit, Labelling, Var, apply, atom, const, evaluate_circuit
from nesy_ir.errors import NesyError
from nesy_ir.properties import bool_keys, is_ddnnf, truth_tables
from nesy_ir.rewrite import Context, rewrite, rule_set
from nesy_ir.rewrite.wmc import WeightedCount

ATOMS = [atom("a", (i,), "bool", Var(f"X{i}")) for i in range(4)] + [atom("b", ("c",), "bool")]


def bool_formulas(max_leaves: int = 12):
    leaves = st.one_of(
        st.sampled_from(ATOMS), st.booleans().map(lambda v: const(v, "bool")), st.just(ATOMS[0])
    )

    def extend(children):
        return st.one_of(
            children.map(lambda c: apply("neg", c)),
            st.lists(children, min_size=2, max_size=3).map(lambda cs: apply("plus", *cs)),
            st.lists(children, min_size=2, max_size=3).map(lambda cs: apply("times", *cs)),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


@given(bool_formulas(), st.sampled_from(VTREES))
def test_round_trip_is_an_equivalent_ddnnf(f, vtree):
    bridge, d = compile_formula(f, vtree=vtree)
    keys = bool_keys([f])
    assert set(bool_keys([d])) <= set(keys)
    before, after = truth_tables([f, d], keys or ["unused"])
    assert (before == after).all()
    assert is_ddnnf(d, max_vars=0, oracle=bridge.exclusive)  # the oracle alone decides
    assert bridge.to_sdd(d) == bridge.to_sdd(f)  # canonical: the same SDD node
    assert rewrite(d, rule_set("simplify")) is d  # already flat: the rewrites see these nodes


@given(bool_formulas(8), bool_formulas(8))
def test_exclusive_agrees_with_truth_tables(f, g):
    bridge = SddBridge(ATOMS)
    keys = bool_keys(ATOMS)
    tf, tg = truth_tables([f, g], keys)
    assert bridge.exclusive(f, g) == (not (tf & tg).any())


def test_decision_nodes_are_deterministic_by_construction():
    x, y, z = ATOMS[:3]
    bridge, d = compile_formula(apply("plus", apply("times", x, y), apply("times", z, ~x)))
    assert d.is_op("plus") and bridge.deterministic(d) is True
    assert bridge.deterministic(x) is None
    assert all(
        bridge.exclusive(a, b) for i, a in enumerate(d.children) for b in d.children[i + 1 :]
    )


def test_unknown_nodes_are_unknown_to_the_oracle():
    bridge = SddBridge(ATOMS[:2])
    other = atom("a", (9,), "bool", Var("X9"))
    assert bridge.exclusive(ATOMS[0], other) is None
    assert bridge.exclusive(ATOMS[0], atom("p", (), "prob")) is None
    assert bridge.exclusive(ATOMS[0], ~ATOMS[0]) is True
    with pytest.raises(NesyError, match="not over a variable"):
        bridge.to_sdd(other)
    with pytest.raises(NesyError, match="not a quantifier-free Boolean formula"):
        bridge.to_sdd(atom("p", (), "prob"))


def test_literals_read_back_as_the_atoms_seen():
    bridge = SddBridge(["X1", "X2"])
    with pytest.raises(NesyError, match="no atom known"):
        bridge.to_ir(bridge.manager.literal(1))
    x1 = atom("x", (), "bool", Var("X1"))
    bridge.to_sdd(x1)
    assert bridge.to_ir(bridge.manager.literal(-1)) == ~x1
    assert bridge.to_ir(bridge.manager.true()) == const(True, "bool")


def test_bad_vtree_and_duplicate_keys():
    with pytest.raises(NesyError, match="unknown vtree 'diagonal'"):
        SddBridge(["X"], vtree="diagonal")
    with pytest.raises(ValueError, match="distinct"):
        SddBridge(["X", "X"])


def _chain(n: int):
    xs = [atom("x", (i,), "bool", Var(f"X{i}")) for i in range(n)]
    return apply("times", *(apply("plus", a, ~b) for a, b in zip(xs, xs[1:], strict=False)))


def test_budgets_stop_compilation_with_a_clear_error():
    with pytest.raises(CompileBudgetError, match=r"compilation exceeded 0\.0 s: stopped after 1"):
        compile_formula(_chain(6), time_budget_s=0.0)
    with pytest.raises(CompileBudgetError, match="compilation exceeded 3 SDD nodes"):
        compile_formula(_chain(12), size_budget=3)
    assert isinstance(CompileBudgetError("x"), NesyError)
    bridge, d = compile_formula(_chain(12), time_budget_s=60, size_budget=10**6)
    assert is_ddnnf(d, oracle=bridge.exclusive)


def test_minimised_compilation_keeps_the_meaning():
    f = _chain(10)
    bridge, d = compile_formula(f, minimize=True)
    keys = bool_keys([f])
    before, after = truth_tables([f, d], keys)
    assert (before == after).all() and is_ddnnf(d, max_vars=0, oracle=bridge.exclusive)


@given(bool_formulas(), st.sampled_from(VTREES), st.integers(0, 2**16))
def test_count_is_the_weighted_count_of_the_read_back_d_dnnf(f, vtree, seed):
    """One pass over the SDD gives the value WeightedCount gives on the IR d-DNNF (checked
    there), summed over all variables or a superset of those the formula mentions."""
    rng = np.random.default_rng(seed)
    reified = ATOMS[:4]
    weights = {
        a.arg.rvar.name: [atom("w", (i,), "prob", a.arg.rvar)] for i, a in enumerate(reified)
    }
    labels = Labelling(
        {"b(c)": bool(rng.integers(2)), **{f"w({i})": rng.uniform(0, 1, 3) for i in range(4)}}
    )
    labels = labels.with_values({"w(1)[false]": rng.uniform(0, 1, 3)})  # not normalised
    bridge = SddBridge(ATOMS, vtree)
    sdd = bridge.to_sdd(f)
    over = sorted({*(k for k in bool_keys([f]) if isinstance(k, str)), "X3"})
    for vars_ in (None, over):
        counter = WeightedCount("prob", weights, Context(labelling=labels))
        expected = WeightedCount("prob", weights, Context(labelling=labels))(
            bridge.to_ir(sdd), vars_
        )
        got = bridge.count(sdd, counter, vars_)
        assert got is bridge.count(sdd, counter, vars_)  # memoised per counter
        values = evaluate_circuit(Circuit([got, expected]), labels)
        assert np.allclose(values["root0"], values["root1"])
