"""Lifted plans: their value equals the enumeration evaluator on the grounded formula, their
reduction order keeps intermediates small, and what they cannot take is refused by name."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.lifted_strategies import (  # noqa: F401 (a fixture)
    SMOOTHMAXES,
    STRUCTURES,
    agg_name,
    smoothmax_registered,
    tensors_for,
    tree_formulas,
)

from nesy_ir import Var, aggregate, apply, atom, const, evaluate, register_algebra, registry
from nesy_ir.errors import LabelError, NesyError
from nesy_ir.laws import LAWS
from nesy_ir.lifted import (
    NUMPY_KERNELS,
    SMOOTHMAX,
    LiftingError,
    SmoothMax,
    evaluate_plan,
    lifted_plan,
    run_plan,
    smoothmax_algebra,
)
from nesy_ir.nodes import Kind, Node
from nesy_ir.registry import get_algebra
from nesy_ir.rewrite import optimise


def grounded_value(formula: Node, tensors: dict, sizes: dict, free: tuple) -> np.ndarray:
    """``evaluate`` of the formula by enumeration, labels of ground atoms read off the tensors,
    one call per assignment of the free variables: shape (B, *sizes of free)."""
    labels = {}
    for p, x in tensors.items():
        for index in itertools.product(*(range(n) for n in x.shape[1:])):
            key = f"{p}({','.join(map(str, index))})" if index else p
            labels[key] = x[(slice(None), *index)]
    batch = next(iter(tensors.values())).shape[0]
    out = np.zeros((batch, *(sizes[v] for v in free)), dtype=float)
    for values in itertools.product(*(range(sizes[v]) for v in free)):
        value = evaluate(formula, labels, dict(zip(free, values, strict=True)))
        out[(slice(None), *values)] = np.broadcast_to(value, (batch,))
    return out


def assert_same(structure: str, got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    if structure == "bool":
        assert np.array_equal(np.asarray(got, bool), want.astype(bool))
    else:
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


# --- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize("structure", STRUCTURES + SMOOTHMAXES[1:])
@given(data=st.data(), batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_plan_equals_grounded_evaluation(structure, data, batch, seed):
    """Every structure; the smooth maximum at temperatures 0.01 to 10, some labels -inf."""
    formula, sizes = data.draw(tree_formulas(structure))
    plan = lifted_plan(formula, sizes)
    tensors = tensors_for(formula, sizes, batch, seed)
    got = evaluate_plan(plan, tensors)
    assert_same(structure, got, grounded_value(formula, tensors, sizes, plan.free))


@pytest.mark.parametrize("structure", ["prob", "maxprod", "logprob", *SMOOTHMAXES])
@settings(max_examples=15)
@given(k=st.integers(1, 5), n=st.integers(1, 4), batch=st.integers(1, 3), seed=st.integers(0, 99))
def test_neurorule_chain_with_one_relation(structure, k, n, batch, seed):
    """``exists Z1..Zk-1: r(X, Z1) * r(Z1, Z2) * ... * r(Zk-1, Y)``: one relation k times."""
    names = ["X", *(f"Z{i}" for i in range(1, k)), "Y"]
    body = apply(
        "times", *(atom("r", (Var(a), Var(b)), structure) for a, b in itertools.pairwise(names))
    )
    formula = body
    for v in reversed(names[1:-1]):
        formula = aggregate(agg_name(structure), v, tuple(range(n)), formula)
    sizes = dict.fromkeys(names, n)
    plan = lifted_plan(formula, {"X": n, "Y": n})
    tensors = tensors_for(formula, sizes, batch, seed)
    got = evaluate_plan(plan, tensors)
    assert got.shape == (batch, n, n)
    assert_same(structure, got, grounded_value(formula, tensors, sizes, plan.free))


def test_prob_chain_is_the_matrix_product():
    rng = np.random.default_rng(0)
    r = rng.uniform(size=(2, 3, 3))
    z = tuple(range(3))
    body = apply("times", *(atom("r", (Var(a), Var(b)), "prob") for a, b in ["XA", "AB", "BY"]))
    formula = aggregate("sum", "A", z, aggregate("sum", "B", z, body))
    got = evaluate_plan(lifted_plan(formula, {"X": 3, "Y": 3}), {"r": r})
    np.testing.assert_allclose(got, r @ r @ r)


def test_output_order_is_sorted_or_as_given():
    r = np.random.default_rng(1).uniform(size=(1, 2, 3))
    formula = atom("r", (Var("Y"), Var("X")), "prob")
    plan = lifted_plan(formula, {"X": 3, "Y": 2})
    assert plan.free == ("X", "Y")
    np.testing.assert_array_equal(evaluate_plan(plan, {"r": r}), r.transpose(0, 2, 1))
    plan = lifted_plan(formula, {"X": 3, "Y": 2}, output=("Y", "X"))
    np.testing.assert_array_equal(evaluate_plan(plan, {"r": r}), r)


def test_plans_are_immutable():
    plan = lifted_plan(atom("r", (Var("X"),), "prob"), {"X": 2})
    with pytest.raises(AttributeError):
        plan.output = 3  # type: ignore[misc]


# --- the order of reductions --------------------------------------------------------------------


def _chain(k: int, n: int, structure: str = "prob") -> Node:
    names = ["X", *(f"Z{i}" for i in range(1, k)), "Y"]
    body = apply(
        "times",
        *(
            atom(f"p{i}", (Var(a), Var(b)), structure)
            for i, (a, b) in enumerate(itertools.pairwise(names))
        ),
    )
    for v in names[1:-1]:  # outermost first: the worst order to eliminate in as written
        body = aggregate(agg_name(structure), v, tuple(range(n)), body)
    return body


@pytest.mark.parametrize(
    "structure", ["prob", "maxprod", "logprob", "godel", "bool", "smoothmax", "smoothmax_cool"]
)
def test_a_long_chain_never_builds_more_than_two_entity_axes(structure):
    plan = lifted_plan(_chain(12, 5, structure), {"X": 5, "Y": 5})
    assert plan.eliminated
    assert len(plan.steps) >= 11
    assert max(len(axes) for axes in plan.intermediates) <= 2


def test_a_star_is_eliminated_leaves_first():
    """Eliminating the centre first would build a tensor over all k leaves; greedy does not."""
    k, n = 6, 4
    body = apply("times", *(atom(f"e{i}", (Var("C"), Var(f"L{i}")), "prob") for i in range(k)))
    formula = body
    for i in range(k):
        formula = aggregate("sum", f"L{i}", tuple(range(n)), formula)
    formula = aggregate("sum", "C", tuple(range(n)), formula)
    plan = lifted_plan(formula)
    assert max(len(axes) for axes in plan.intermediates) <= 1
    tensors = tensors_for(formula, {"C": n, **{f"L{i}": n for i in range(k)}}, 2, 0)
    want = np.einsum("bcl->bc", tensors["e0"])
    for i in range(1, k):
        want = want * np.einsum("bcl->bc", tensors[f"e{i}"])
    np.testing.assert_allclose(evaluate_plan(plan, tensors), want.sum(axis=1))


def test_without_distributivity_the_plan_follows_the_formula():
    """Product logic: the body is multiplied out before its variable is reduced (exact)."""
    plan = lifted_plan(_chain(4, 3, "product"), {"X": 3, "Y": 3})
    assert not plan.eliminated
    assert max(len(axes) for axes in plan.intermediates) == 4  # X, Z1, Z2, Y before Z3 goes


# --- log-space steps ----------------------------------------------------------------------------


def _recording_kernels(built: list, repaired: list):
    """NUMPY_KERNELS recording the shape of every broadcast (x) and every repaired step."""
    from dataclasses import replace

    ops = NUMPY_KERNELS.log

    def add(a, b):
        out = np.add(a, b)
        built.append(out.shape)
        return out

    def repair(under, value, exact):
        repaired.append(int(np.sum(under)))
        return ops.repair(under, value, exact)

    return replace(
        NUMPY_KERNELS, times={**NUMPY_KERNELS.times, "add": add}, log=replace(ops, repair=repair)
    )


@pytest.mark.parametrize("structure", ["logprob", "smoothmax", "smoothmax_warm"])
def test_a_log_space_chain_is_contracted_without_broadcasting(structure):
    """Each pairwise step is an einsum of shifted exponentials: no (x) builds a 3-axis tensor."""
    formula = _chain(12, 5, structure)
    plan = lifted_plan(formula, {"X": 5, "Y": 5})
    tensors = tensors_for(formula, dict.fromkeys(formula.free | _variables(formula), 5), 2, 7)
    built, repaired = [], []
    got = run_plan(plan, tensors, _recording_kernels(built, repaired))
    assert all(len(shape) <= 3 for shape in built), built  # batch and two entity axes at most
    np.testing.assert_allclose(got, evaluate_plan(plan, tensors), rtol=1e-12)
    assert _broadcast_value(plan, tensors).shape == got.shape
    np.testing.assert_allclose(got, _broadcast_value(plan, tensors), rtol=1e-9, atol=1e-12)


def _variables(node: Node) -> set[str]:
    out = {node.arg.var} if node.kind is Kind.AGG else set()
    for c in node.children:
        out |= _variables(c)
    return out


def _broadcast_value(plan, tensors):
    """The plan run with every log-space step broadcast (no log kernels): the reference."""
    from dataclasses import replace

    tensors = {p: np.asarray(x, dtype=float) for p, x in tensors.items()}
    return run_plan(plan, tensors, replace(NUMPY_KERNELS, log=None))


def test_underflowing_exponentials_are_recomputed_by_broadcasting():
    """At temperature 0.01, a gap of 20 between the best path and the operands' maxima makes
    every exponential of the einsum underflow (exp(-2000)): those entries are broadcast."""
    formula = _chain(2, 2, "smoothmax_cool")
    plan = lifted_plan(formula, {"X": 2, "Y": 2})
    p0 = np.array([[[0.0, -20.0], [-1.0, -2.0]]])  # p0(x, z)
    p1 = np.array([[[-20.0, -0.5], [0.0, -3.0]]])  # p1(z, y)
    built, repaired = [], []
    got = run_plan(plan, {"p0": p0, "p1": p1}, _recording_kernels(built, repaired))
    paths = p0[0][:, :, None] + p1[0][None]  # (x, z, y)
    top = paths.max(axis=1)
    want = top + 0.01 * np.log(np.exp((paths - top[:, None]) / 0.01).sum(axis=1))
    np.testing.assert_allclose(got[0], want, rtol=1e-12)
    assert np.isclose(got[0, 0, 0], -20.0 + 0.01 * np.log(2.0))  # two paths of -20
    assert repaired == [1]  # (x0, y0): exp(0) exp(-2000) + exp(-2000) exp(0) underflows
    assert any(len(shape) == 4 for shape in built)  # the broadcast (B, x, y, z) recomputed it


def test_a_row_of_minus_inf_gives_minus_inf_without_warnings():
    formula = _chain(3, 3, "smoothmax")
    plan = lifted_plan(formula, {"X": 3, "Y": 3})
    rng = np.random.default_rng(1)
    tensors = {f"p{i}": np.log(rng.uniform(0.05, 2.0, (2, 3, 3))) for i in range(3)}
    tensors["p0"][0, 1, :] = -np.inf  # p0(x1, z) = 0 for every z: no path from x1
    tensors["p2"][1] = -np.inf  # no path at all in the second batch entry
    with np.errstate(divide="raise", invalid="raise", over="raise"):
        got = evaluate_plan(plan, tensors)
    assert np.all(got[0, 1] == -np.inf)
    assert np.all(got[1] == -np.inf)
    assert np.all(np.isfinite(np.delete(got[0], 1, axis=0)))
    want = grounded_value(formula, tensors, dict.fromkeys("XY", 3), ("X", "Y"))
    assert_same("smoothmax", got, want)


# --- the smooth maximum -------------------------------------------------------------------------

GRID = (-np.inf, -5.0, -1.0, -0.3, 0.0, 0.1, 0.5, 2.0, 1e300)


def _grid_triples():
    triples = np.array(list(itertools.product(GRID, repeat=3)))
    return tuple(np.asarray(c, dtype=float) for c in triples.T)


@pytest.mark.parametrize("temperature", [0.01, 0.1, 1.0, 10.0])
@pytest.mark.parametrize(
    "law", sorted(law for law in LAWS if law not in {"neg.involutive", "complemented", "de_morgan"})
)
def test_smoothmax_declares_exactly_the_laws_that_hold(law, temperature):
    """Log-truths, -inf and a huge value included: the semiring laws, nothing more."""
    algebra = smoothmax_algebra(temperature)
    holds = bool(np.all(LAWS[law](algebra, *_grid_triples())))
    assert holds == (law in algebra.laws), law


def test_smoothmax_is_a_semiring_with_the_laws_of_logprob():
    logprob = get_algebra("logprob")
    assert SMOOTHMAX.laws == logprob.laws - {"neg.involutive", "complemented"}
    assert SMOOTHMAX.has("times.distributes")
    assert (SMOOTHMAX.zero, SMOOTHMAX.one) == (-np.inf, 0.0)
    assert SMOOTHMAX.carrier.low == -np.inf
    a, b = _grid_triples()[:2]
    np.testing.assert_allclose(smoothmax_algebra(1.0).plus(a, b), logprob.plus(a, b), rtol=1e-12)


def test_smoothmax_tends_to_the_maximum():
    x = np.log([0.2, 0.9, 0.5])
    for t, bound in [(1.0, np.log(3)), (0.1, 0.1 * np.log(3)), (1e-3, 1e-3 * np.log(3))]:
        smax = SmoothMax(t)
        value = smax(smax(x[0], x[1]), x[2])
        assert x[1] <= value <= x[1] + bound
        assert smax(x[1], -np.inf) == x[1]
        assert smax(-np.inf, -np.inf) == -np.inf
        assert smax(1e300, 1e300) == 1e300  # no overflow of x / tau
    with pytest.raises(ValueError, match="positive"):
        smoothmax_algebra(0.0)


def test_rewrites_are_gated_by_the_smoothmax_laws():
    """``a (+) a -> a`` needs idempotence: it holds for maxprod, not for the smooth maximum."""
    for structure, idempotent in [("maxprod", True), ("smoothmax", False)]:
        a = atom("a", (), structure)
        out = optimise(apply("plus", a, a))
        assert (out is a) == idempotent


def _retarget(node: Node, structure: str) -> Node:
    """The same formula in ``structure`` (atoms, products, aggregations by (+))."""
    if node.kind is Kind.ATOM:
        return atom(node.arg.predicate, node.arg.args, structure)
    if node.kind is Kind.APPLY:
        return apply(node.arg, *(_retarget(c, structure) for c in node.children))
    body = _retarget(node.children[0], structure)
    return aggregate(agg_name(structure), node.arg.var, node.arg.domain, body)


@settings(max_examples=30)
@given(data=st.data(), batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_smoothmax_at_temperature_one_is_logprob(data, batch, seed):
    formula, sizes = data.draw(tree_formulas("logprob"))
    tensors = tensors_for(formula, sizes, batch, seed)
    want = evaluate_plan(lifted_plan(formula, sizes), tensors)
    warm = _retarget(formula, "smoothmax_warm")
    got = evaluate_plan(lifted_plan(warm, sizes), tensors)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_smoothmax_chain_tends_to_maxprod_in_log_space_as_temperature_falls(k):
    """``tau log sum_z exp(sum / tau)`` is within ``tau log(n^(k-1))`` above the max of sums,
    the value of ``maxprod`` on the truths, in log space."""
    n = 3
    rng = np.random.default_rng(3)
    truths = {f"p{i}": rng.uniform(0.01, 1.0, size=(2, n, n)) for i in range(k)}
    logs = {p: np.log(x) for p, x in truths.items()}
    maxprod = evaluate_plan(lifted_plan(_chain(k, n, "maxprod"), {"X": n, "Y": n}), truths)
    for structure, t in [("smoothmax_warm", 1.0), ("smoothmax", 0.1), ("smoothmax_cool", 0.01)]:
        got = evaluate_plan(lifted_plan(_chain(k, n, structure), {"X": n, "Y": n}), logs)
        gap = got - np.log(maxprod)
        assert np.all(gap >= -1e-12)
        assert np.all(gap <= t * (k - 1) * np.log(n) + 1e-12)
    cold = register_algebra(smoothmax_algebra(1e-4, name="smoothmax_cold"), replace=True)
    got = evaluate_plan(lifted_plan(_chain(k, n, cold.name), {"X": n, "Y": n}), logs)
    np.testing.assert_allclose(got, np.log(maxprod), atol=1e-3)


# --- refusals -----------------------------------------------------------------------------------

X, Y, Z = Var("X"), Var("Y"), Var("Z")
D = (0, 1, 2)


def _refused():
    r, s = atom("r", (X, Z), "prob"), atom("s", (Z, Y), "prob")
    return [
        (aggregate("sum", "Z", D, apply("neg", r) * s), "neg"),
        (aggregate("sum", "Z", D, r + s), "plus"),
        (aggregate("sum", "Z", D, r * const(0.5, "prob")), "const"),
        (aggregate("sum", "Z", D, r * atom("t", (Z, "c"), "prob")), "'c'"),
        (aggregate("sum", "Z", D, r * atom("t", (Z, Z), "prob")), "repeated"),
        (aggregate("prod", "Z", D, r * s), "(x)"),
        (aggregate("sum", "Z", "bool", atom("w", (X,), "prob", Z)), "truth values"),
        (r * aggregate("sum", "Z", D, s), "rename"),
        (aggregate("sum", "Z", D, r) * aggregate("sum", "Z", D, s), "rename"),
        (aggregate("sum", "Z", D, r * atom("r", (Z, X), "prob")), "argument sizes"),
    ]


@pytest.mark.parametrize("formula, named", _refused())
def test_refused_constructs_are_named(formula, named):
    with pytest.raises(NesyError) as info:
        lifted_plan(formula, {"X": 2, "Y": 3, "Z": 3})
    assert isinstance(info.value, LiftingError)
    assert named in str(info.value)


def test_a_transformation_is_refused():
    from nesy_ir import transform

    formula = aggregate("sum", "X", D, transform(atom("a", (X,), "bool"), "prob"))
    with pytest.raises(LiftingError, match="transform"):
        lifted_plan(formula)


def test_unknown_sizes_and_disagreeing_domains_are_refused():
    r = atom("r", (X, Z), "prob")
    with pytest.raises(LiftingError, match="X"):
        lifted_plan(aggregate("sum", "Z", D, r))
    with pytest.raises(LiftingError, match="Z"):
        lifted_plan(aggregate("sum", "Z", D, r), {"X": 2, "Z": 5})
    with pytest.raises(LiftingError, match="output"):
        lifted_plan(r, {"X": 2, "Z": 3}, output=("X",))


def test_a_structure_without_a_lifting_is_refused():
    from tests.nesy_ir.strategies import tropical

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry, "_ALGEBRAS", dict(registry._ALGEBRAS))
        register_algebra(tropical())
        with pytest.raises(LiftingError, match="tropical"):
            lifted_plan(atom("r", (X,), "tropical"), {"X": 2})


def test_a_tensor_of_the_wrong_shape_names_the_predicate_and_the_shape():
    formula = aggregate("sum", "Z", D, atom("r", (X, Z), "prob") * atom("s", (Z, Y), "prob"))
    plan = lifted_plan(formula, {"X": 2, "Y": 4})
    good = {"r": np.ones((2, 2, 3)), "s": np.ones((2, 3, 4))}
    with pytest.raises(
        LabelError, match=r"label tensor of s has shape \(2, 4, 3\): expected \(B, 3, 4\)"
    ):
        evaluate_plan(plan, {**good, "s": np.ones((2, 4, 3))})
    with pytest.raises(LabelError, match=r"of s has shape \(3, 4\)"):
        evaluate_plan(plan, {**good, "s": np.ones((3, 4))})
    with pytest.raises(LabelError, match="batch size 5"):
        evaluate_plan(plan, {**good, "s": np.ones((5, 3, 4))})
    with pytest.raises(LabelError, match="no label tensor for predicate r"):
        evaluate_plan(plan, {"s": good["s"]})
