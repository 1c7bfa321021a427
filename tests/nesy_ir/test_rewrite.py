"""Every rewrite rule alone, and the whole pipeline, preserve the value of random formulas."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.nesy_ir.strategies import closed_formulas, random_labels

from nesy_ir import Labelling, Var, aggregate, apply, atom, transform
from nesy_ir.algebras import BUILTIN_ALGEBRAS
from nesy_ir.circuit import Circuit
from nesy_ir.evaluate import evaluate, evaluate_circuit
from nesy_ir.registry import get_algebra
from nesy_ir.rewrite import (
    PIPELINE,
    STEPWISE,
    Context,
    RuleSet,
    optimise,
    rewrite,
    rule_set,
    rule_sets,
    to_circuit,
)
from nesy_ir.syntax import parse, to_text
from nesy_ir.traverse import size

STRUCTURES = [a.name for a in BUILTIN_ALGEBRAS]
ALL_RULES = [r for rs in rule_sets().values() for r in rs.rules]


def same(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    return bool(np.allclose(a, b, rtol=1e-7, atol=1e-9, equal_nan=False))


def check_preserved(f, out, labels) -> None:
    expected = evaluate(f, labels)
    assume(np.all(np.isfinite(expected)) or get_algebra(f.structure).name == "logprob")
    assume(not np.any(np.isnan(expected)))
    got = evaluate(out, labels)
    if get_algebra(f.structure).name == "logprob":  # log(1 - p) near p = 1 amplifies rounding
        expected, got = np.exp(expected), np.exp(got)
    assert same(expected, got), f"{to_text(f)}\n  -> {to_text(out)}\n{expected} != {got}"


formula_cases = st.sampled_from(STRUCTURES).flatmap(
    lambda s: st.tuples(closed_formulas(s), st.integers(0, 2**16))
)


@pytest.mark.parametrize("rule", ALL_RULES, ids=[r.name for r in ALL_RULES])
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(case=formula_cases)
def test_each_rule_alone_preserves_value(rule, case):
    f, seed = case
    out = rewrite(f, RuleSet(rule.name, (rule,)))
    check_preserved(f, out, random_labels(f.structure, seed))


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(case=formula_cases)
def test_pipeline_and_lowering_preserve_value(case):
    f, seed = case
    labels = random_labels(f.structure, seed)
    check_preserved(f, optimise(f, labels), labels)
    circuit = to_circuit(f, labelling=labels)
    expected = evaluate(f, labels)
    assume(not np.any(np.isnan(expected)))
    naive = to_circuit(f, optimised=False)
    for lowered in (circuit, naive):
        got = evaluate_circuit(lowered, labels)["root0"]
        if get_algebra(f.structure).name == "logprob":  # log(1 - p) near p = 1: see above
            assert same(np.exp(expected), np.exp(got))
        else:
            assert same(expected, got)


# --- the alarm: eq. 10 rewrites into Figure 4 ------------------------------------------------

ALARM = (
    "sum X in bool: sum Y in bool: tau[bool->prob](burglary[X]@bool + earthquake[Y]@bool)"
    " * burglary(V)[X]@prob * earthquake(S)[Y]@prob"
)


def test_alarm_rewrites_into_figure_4():
    """p_b + (1 - p_b) p_e: one (+), one (x), three leaves; by the default pipeline (one-step
    weighted model counting) and by the step-by-step rules of source 003, sec. 6.3.1."""
    b_true, b_false, e_true = (
        parse(t)
        for t in ("burglary(V)[true]@prob", "burglary(V)[false]@prob", "earthquake(S)[true]@prob")
    )
    stepwise = optimise(parse(ALARM), passes=STEPWISE)
    circuit = to_circuit(parse(ALARM))
    for root in (circuit.roots[0], stepwise):
        assert root.is_op("plus") and len(root.children) == 2
        single, product = sorted(root.children, key=lambda c: c.is_op("times"))
        assert single is b_true and set(product.children) == {b_false, e_true}
    stats = circuit.stats()
    assert (stats["plus"], stats["times"], stats["leaves"]) == (1, 1, 3)
    labels = {"burglary(v)": [0.6, 0.1, 1.0], "earthquake(s)": [0.3, 0.5, 0.0]}
    value = evaluate_circuit(circuit, labels, {"V": "v", "S": "s"})["root0"]
    assert np.allclose(value, [0.72, 0.55, 1.0])


def test_alarm_needs_normalised_labels():
    """Without normalised labels sum_Y w(Y) stays: the rewrite checks the declared property."""
    from nesy_ir import LabelFunction

    def fn(args, value):  # not a distribution: both truth values get 0.5
        return 0.5

    labels = Labelling(functions=[LabelFunction("earthquake", "prob", fn, normalised=False)])
    circuit = to_circuit(parse(ALARM), labelling=labels)
    assert circuit.stats()["leaves"] > 3
    for p_b in (0.2, 0.6):
        full = labels.with_values({"burglary(v)": p_b})
        env = {"V": "v", "S": "s"}
        assert np.allclose(
            evaluate_circuit(circuit, full, env)["root0"], evaluate(parse(ALARM), full, env)
        )


def test_alarm_fuzzy_is_not_rewritten_like_probability():
    """Goedel (+) is idempotent but the probabilistic aggregation rules need distributivity
    of (x) over the aggregation and complemented labels: no three-leaf circuit for godel."""
    f = parse("burglary(V)@godel + earthquake(S)@godel")
    assert to_circuit(f).roots == (f,)
    v = evaluate(f, {"burglary(v)": 0.6, "earthquake(s)": 0.3}, {"V": "v", "S": "s"})
    assert np.isclose(v, 0.6)


# --- law gating ---------------------------------------------------------------------------


def test_idempotence_only_where_declared():
    assert to_text(optimise(parse("a@godel + a@godel"))) == "a@godel"
    assert to_text(optimise(parse("a@bool + a@bool"))) == "a@bool"
    assert to_text(optimise(parse("a@prob + a@prob"))) == "a@prob + a@prob"
    assert to_text(optimise(parse("a@product * a@product"))) == "a@product * a@product"


def test_neutral_absorbing_and_folding():
    assert to_text(optimise(parse("a@prob * 1.0@prob + 0.0@prob"))) == "a@prob"
    assert to_text(optimise(parse("a@prob * 0.0@prob + b@prob"))) == "b@prob"
    assert to_text(optimise(parse("a@godel + 1.0@godel"))) == "1.0@godel"
    assert to_text(optimise(parse("a@prob + 1.0@prob"))) == "a@prob + 1.0@prob"
    assert to_text(optimise(parse("0.5@prob * 0.4@prob"))) == "0.2@prob"
    assert to_text(optimise(parse("~~a@prob"))) == "a@prob"


def test_factoring_shrinks():
    f = parse("a@prob * b@prob + a@prob * c@prob + a@prob * d@prob")
    out = optimise(f)
    assert to_text(out) == "a@prob * (b@prob + c@prob + d@prob)"
    assert size([out])[1] < size([f])[1]
    # fuzzy Lukasiewicz (x) does not distribute over (+): left alone
    g = parse("a@lukasiewicz * b@lukasiewicz + a@lukasiewicz * c@lukasiewicz")
    assert optimise(g) is g


def test_factoring_takes_the_first_of_equally_common_factors():
    """Ties go to the factor met first, whatever the nodes' addresses: the same formula always
    compiles to the same circuit."""
    for i in range(20):
        a, b = (atom(f"{x}{i}", (), "prob") for x in ("ab" if i % 2 else "ba"))
        cs = [atom(f"c{i}_{k}", (), "prob") for k in range(4)]
        out = optimise(apply("plus", *(apply("times", a, b, c) for c in cs)))
        assert out.is_op("times") and out.children[:2] == (a, b)


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(case=formula_cases)
def test_lowering_skips_its_final_pass_only_where_it_changes_nothing(case):
    f, seed = case
    labels = random_labels(f.structure, seed)
    ctx = Context(labelling=labels)
    optimised = optimise(f, passes=PIPELINE, ctx=ctx)
    final = rewrite(optimised, rule_set("simplify", "expand", "nnf"), ctx)
    assert to_circuit(f, labelling=labels).roots == (final,)


def test_push_transform_requires_determinism():
    """tau(a + b) is not tau(a) + tau(b) in prob unless a and b are exclusive."""
    from nesy_ir.rewrite.push import PUSH

    overlapping = parse("tau[bool->prob](a@bool + b@bool)")
    assert rewrite(overlapping, PUSH) is overlapping
    exclusive = parse("tau[bool->prob](a@bool * b@bool + ~a@bool * c@bool)")
    pushed = rewrite(exclusive, PUSH)
    assert pushed.is_op("plus")
    labels = {"a": [0, 1, 1], "b": [1, 0, 1], "c": [1, 1, 0]}
    assert same(evaluate(exclusive, labels), evaluate(pushed, labels))
    # max-product needs no determinism: max of indicators is the indicator of or
    lattice = parse("tau[bool->maxprod](a@bool + b@bool)")
    assert rewrite(lattice, PUSH).is_op("plus")


def test_rewrite_loop_is_reported():
    from nesy_ir.errors import RewriteLoopError
    from nesy_ir.nodes import Kind
    from nesy_ir.rewrite import Rule

    swap = Rule("swap", Kind.APPLY, lambda n, ctx: n.with_children(n.children[::-1]), "plus")
    with pytest.raises(RewriteLoopError, match="swap"):
        rewrite(parse("a@prob + b@prob"), RuleSet("swap", (swap,)))


def test_user_rule_set_registers_and_runs():
    from nesy_ir.nodes import Kind
    from nesy_ir.rewrite import Rule, register_rule_set, rule_set

    def half_plus_half(n, ctx):  # x + x -> 2 x is not expressible; use a toy: a + a -> a * 1
        return None

    rs = RuleSet("toy", (Rule("toy", Kind.APPLY, half_plus_half, "plus"),))
    register_rule_set(rs, replace=True)
    assert rule_set("toy") is rs
    with pytest.raises(KeyError, match="unknown rule sets"):
        rule_set("no-such-set")


# --- random 3-CNF: naive enumeration vs rewritten ------------------------------------------


def cnf_formula(n: int, m: int, rng: np.random.Generator):
    xs = [Var(f"X{i}") for i in range(n)]
    lits = [atom(f"a{i}", (), "bool", x) for i, x in enumerate(xs)]
    clauses = []
    for _ in range(m):
        chosen = rng.choice(n, 3, replace=False)
        clause = [lits[v] if rng.random() < 0.5 else ~lits[v] for v in chosen]
        clauses.append(clause[0] + clause[1] + clause[2])
    cnf = clauses[0]
    for c in clauses[1:]:
        cnf = cnf * c
    body = transform(cnf, "prob")
    for i, x in enumerate(xs):
        body = body * atom(f"w{i}", (), "prob", x)
    for x in reversed(xs):
        body = aggregate("sum", x, "bool", body)
    return body


def brute_force_wmc(f, n, labels):
    """Weighted model count by enumerating the 2^n assignments directly."""
    from itertools import product

    from nesy_ir.traverse import substitute

    body = f
    for _ in range(n):
        body = body.children[0]
    total = 0.0
    for values in product((False, True), repeat=n):
        total = total + evaluate(
            substitute(body, {f"X{i}": v for i, v in enumerate(values)}), labels
        )
    return total


@pytest.mark.parametrize("n", [4, 6, 8])
def test_cnf_circuit_equals_brute_force(n):
    rng = np.random.default_rng(n)
    f = cnf_formula(n, round(2.5 * n), rng)
    labels = Labelling({f"w{i}": rng.uniform(size=4) for i in range(n)})
    circuit = to_circuit(f, labelling=labels)
    naive = to_circuit(f, optimised=False)
    assert circuit.stats()["edges"] < naive.stats()["edges"]
    expected = brute_force_wmc(f, n, labels)
    assert np.allclose(evaluate_circuit(circuit, labels)["root0"], expected)
    assert all(not n.kind.value == "agg" for n in circuit.nodes())
    assert isinstance(circuit, Circuit)


def test_context_max_vars_limits_boolean_expansion():
    rng = np.random.default_rng(1)
    f = cnf_formula(6, 10, rng)
    small = to_circuit(f, ctx=Context(max_vars=3))  # Boolean part too large: enumeration instead
    big = to_circuit(f)
    labels = Labelling({f"w{i}": 0.3 for i in range(6)})
    assert np.allclose(
        evaluate_circuit(small, labels)["root0"], evaluate_circuit(big, labels)["root0"]
    )
    assert small.stats()["nodes"] > big.stats()["nodes"]


# --- one-step weighted model counting and fixed labels ---------------------------------------


def _chain(formula, xs, weights):
    body = transform(formula, "prob")
    for x in xs:
        body = body * weights[x.name][0]
    for x in reversed(xs):
        body = aggregate("sum", x, "bool", body)
    return body


def test_weighted_count_equals_enumeration_and_shares_nodes():
    from nesy_ir.rewrite.boolean import shannon
    from nesy_ir.rewrite.wmc import WeightedCount

    xs = [Var(f"X{i}") for i in range(3)]
    a = [atom(f"a{i}", (), "bool", x) for i, x in enumerate(xs)]
    weights = {x.name: [atom(f"w{i}", (), "prob", x)] for i, x in enumerate(xs)}
    # explicit false labels: nothing is normalised, so missing variables must be summed in
    labels = Labelling({**{f"w{i}": 0.2 + 0.3 * i for i in range(3)}, "w1[false]": 0.9})
    f, g = shannon((a[0] + a[1]) * ~a[2]), shannon(a[0] * a[1] + ~a[0] * ~a[2])
    count = WeightedCount("prob", weights, Context(labelling=labels))
    for formula in (f, g):
        expected = evaluate(_chain(formula, xs, weights), labels)
        got = evaluate_circuit(Circuit([count(formula)]), labels)["root0"]
        assert np.allclose(got, expected)
        fresh = WeightedCount("prob", weights, Context(labelling=labels))
        assert fresh(formula) is count(formula)  # the shared memo changes nothing
    h = shannon(a[0] * ~a[1])  # summed over X0 and X1 only
    expected = evaluate(_chain(h, xs[:2], weights), labels)
    got = evaluate_circuit(Circuit([count(h, ["X0", "X1"])]), labels)["root0"]
    assert np.allclose(got, expected)
    assert count(a[0] + a[1]) is None  # not deterministic: not a d-DNNF


def test_fixed_labels_become_constants():
    from nesy_ir import const

    p_false = atom("p", (), "prob", False)
    f = p_false * atom("q", (), "prob") + atom("r", (), "prob")
    circuit = to_circuit(f, ctx=Context(fixed={p_false: const(1.0, "prob")}))
    assert p_false not in set(circuit.nodes())
    assert circuit.stats()["nodes"] == 3  # q + r
    labels = Labelling({"p": 0.0, "q": 0.4, "r": 0.1})  # p[false] = 1, the fixed value
    assert np.allclose(evaluate_circuit(circuit, labels)["root0"], evaluate(f, labels))


# --- merging operands into their parents without copying -------------------------------------


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(case=formula_cases)
def test_merge_unshared_keeps_the_value_and_never_grows(case):
    from nesy_ir.rewrite.merge import merge_unshared

    f, seed = case
    labels = random_labels(f.structure, seed)
    circuit = to_circuit(f, labelling=labels, optimised=False)  # unflattened: much to merge
    merged = Circuit(merge_unshared(circuit.roots), circuit.names)
    expected = evaluate_circuit(circuit, labels)["root0"]
    assume(not np.any(np.isnan(expected)))
    got = evaluate_circuit(merged, labels)["root0"]
    if get_algebra(f.structure).name == "logprob":  # log(1 - p) near p = 1: see above
        expected, got = np.exp(expected), np.exp(got)
    assert same(expected, got)
    assert size(merged.roots) <= size(circuit.roots)  # (nodes, edges): nodes never grow
    assert size(merged.roots)[1] <= size(circuit.roots)[1]  # nor edges


def test_merge_unshared_copies_no_edge():
    from nesy_ir.rewrite.merge import merge_unshared

    a, b, c, d, e = (atom(x, (), "prob") for x in "abcde")
    times = partial(apply, "times")
    alone, pair, triple = times(a, b), times(c, d), times(a, c, e)
    # alone: one parent, merged; pair: two parents and two operands, merged (4 edges either
    # way); triple: two parents and three operands, kept (merging would copy 2 edges)
    roots = (
        apply("plus", times(alone, e), times(pair, a)),
        apply("plus", times(pair, b), times(triple, b), times(triple, d)),
    )
    merged = merge_unshared(roots)
    assert merged == (
        apply("plus", times(a, b, e), times(c, d, a)),
        apply("plus", times(c, d, b), times(triple, b), times(triple, d)),
    )
    assert size(merged) < size(roots)
    shared = apply("plus", a, b)  # a root that is also an operand stays a node: not merged
    assert merge_unshared([shared, apply("plus", shared, c)]) == (shared, apply("plus", shared, c))
    negated = apply("neg", apply("neg", a))  # only (+) and (x) merge
    assert merge_unshared([negated]) == (negated,)
