"""Conditional inference (nesy_ir.inference): posterior marginals, MPE and sampling against
brute-force enumeration of the possible worlds of random programs and hand-made circuits."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.inference_strategies import DIGITS, programs

from nesy_ir import Circuit, Labelling, atom, const
from nesy_ir.inference import (
    ImpossibleEvidenceError,
    InferenceError,
    mpe,
    posterior_marginals,
    sample,
)
from nesy_ir.nodes import Kind, Node, apply, transform
from nesy_ir.smooth import is_smooth, smooth

nesy_compile = pytest.importorskip("nesy_compile")
if not nesy_compile.pysdd_available():
    pytest.skip("needs PySDD", allow_module_level=True)

ALARM = "0.1::burglary. 0.2::earthquake. alarm :- burglary. alarm :- earthquake. query(alarm)."


def compiled(program):
    cp = nesy_compile.compile_program(program.text())
    return cp, cp.labelling.with_values(program.labels())


def tolerance(k: int) -> float:
    """Six standard deviations of a frequency of k draws, at most (0.5 / sqrt(k) each)."""
    return 3.0 / math.sqrt(k)


# --- hand-checked ---------------------------------------------------------------------------


def test_alarm_posterior():
    cp = nesy_compile.compile_program(ALARM)
    got = posterior_marginals(cp.circuit, cp.labelling, "alarm")
    assert got["burglary"] == pytest.approx(0.1 / (1 - 0.9 * 0.8), abs=1e-12)  # 0.3571428...
    assert got["earthquake"] == pytest.approx(0.2 / 0.28, abs=1e-12)
    assert not is_smooth(cp.circuit)  # right without smoothing


def test_alarm_mpe_and_samples():
    cp = nesy_compile.compile_program(ALARM)
    best, p = mpe(cp.circuit, cp.labelling, "alarm")
    assert best == {"burglary": False, "earthquake": True}
    assert p == pytest.approx(0.9 * 0.2)
    k = 100_000
    draws = sample(cp.circuit, cp.labelling, "alarm", k=k, seed=1)
    assert set(draws) == {"burglary", "earthquake"}
    assert all(v.shape == (k,) and v.dtype == bool for v in draws.values())
    assert np.all(draws["burglary"] | draws["earthquake"])  # every draw is a model of alarm
    assert draws["burglary"].mean() == pytest.approx(0.1 / 0.28, abs=tolerance(k))
    assert draws["earthquake"].mean() == pytest.approx(0.2 / 0.28, abs=tolerance(k))
    again = sample(cp.circuit, cp.labelling, "alarm", k=k, seed=1)
    assert all(np.array_equal(draws[a], again[a]) for a in draws)  # seeded


def test_batched_labels():
    cp = nesy_compile.compile_program(ALARM)
    b = np.array([0.1, 0.5, 0.9])
    got = posterior_marginals(cp.circuit, cp.labelling.with_values({"burglary": b}), "alarm")
    assert got["burglary"].shape == (3,)
    np.testing.assert_allclose(got["burglary"], b / (1 - (1 - b) * 0.8), rtol=1e-12)
    best, p = mpe(cp.circuit, cp.labelling.with_values({"burglary": b}), "alarm")
    assert best["burglary"].tolist() == [False, True, True]
    np.testing.assert_allclose(p, [0.18, 0.5 * 0.8, 0.9 * 0.8])  # earthquake false


def test_impossible_root_names_it():
    cp = nesy_compile.compile_program("0.3::a. q :- a, \\+ a. query(q).")
    for f in (posterior_marginals, mpe):
        with pytest.raises(ImpossibleEvidenceError, match="'q'"):
            f(cp.circuit, cp.labelling, "q")
    with pytest.raises(ImpossibleEvidenceError, match="'q'"):
        sample(cp.circuit, cp.labelling, "q", k=3)
    cp = nesy_compile.compile_program(ALARM)
    labels = cp.labelling.with_values({"burglary": np.array([0.1, 0.0]), "earthquake": 0.0})
    with pytest.raises(ImpossibleEvidenceError, match="batch elements \\[1\\]"):
        posterior_marginals(cp.circuit, labels, "alarm")


def test_unknown_root_and_unsupported_structure():
    cp = nesy_compile.compile_program(ALARM)
    with pytest.raises(InferenceError, match="no root 'nope'"):
        posterior_marginals(cp.circuit, cp.labelling, "nope")
    g = Circuit(atom("a", (), "godel", True) + atom("b", (), "godel", True), ["r"])
    with pytest.raises(InferenceError, match="godel"):
        posterior_marginals(g, {"a": 0.5, "b": 0.5})


def test_sample_takes_one_labelling_and_no_negation():
    cp = nesy_compile.compile_program(ALARM)
    batched = cp.labelling.with_values({"burglary": np.array([0.1, 0.2])})
    with pytest.raises(InferenceError, match="one labelling"):
        sample(cp.circuit, batched, "alarm", k=5)
    negated = Circuit(apply("neg", _lit("a", True)) * _lit("b", True), ["r"])
    for f in (mpe, sample):
        with pytest.raises(InferenceError, match="negation"):
            f(negated, {"a": 0.5, "b": 0.5})
    # posterior marginals differentiate it: d log((1 - a) b) / d log a = -a / (1 - a), and the
    # prior share of the rest, a (1 + a / (1 - a)), cancels it: P(a | not a and b) = 0
    got = posterior_marginals(negated, {"a": 0.25, "b": 0.5})
    assert got["a"] == pytest.approx(0.0, abs=1e-12)
    assert got["b"] == pytest.approx(1.0)


# --- hand-made circuits: not smooth, logprob ------------------------------------------------


def _worlds_of(keys):
    import itertools

    return [
        dict(zip(keys, w, strict=True)) for w in itertools.product([False, True], repeat=len(keys))
    ]


def _brute_circuit(circuit: Circuit, probs: dict[str, float]):
    """P(key | root) over the worlds of normalised variables: a world is a model where the
    circuit with indicator labels is one (it is deterministic)."""
    from nesy_ir import evaluate_circuit

    keys = sorted(probs)
    total, marg = 0.0, dict.fromkeys(keys, 0.0)
    for w in _worlds_of(keys):
        indicators = {}
        for k in keys:
            indicators[k] = float(w[k])
        model = float(evaluate_circuit(circuit, indicators)[circuit.names[0]])
        weight = math.prod(probs[k] if w[k] else 1 - probs[k] for k in keys) * model
        total += weight
        for k in keys:
            marg[k] += weight * w[k]
    return {k: v / total for k, v in marg.items()}, total


def _lit(name: str, value: bool, structure: str = "prob") -> Node:
    return atom(name, (), structure, value)


@given(st.lists(st.floats(0.05, 0.95), min_size=4, max_size=4))
def test_non_smooth_circuit_equals_brute_force(ps):
    # a[t] + a[f] * (b[t] * c[f] + b[f] * d[t]): b, c, d missing below a[t]; c, d below parts
    a, b, c, d = (lambda v, n=n: _lit(n, v) for n in "abcd")
    root = a(True) + a(False) * (b(True) * c(False) + b(False) * d(True))
    circuit = Circuit(root, ["r"])
    assert not is_smooth(circuit)
    probs = dict(zip("abcd", ps, strict=True))
    want, total = _brute_circuit(circuit, probs)
    got = posterior_marginals(circuit, probs)
    for k in probs:
        assert got[k] == pytest.approx(want[k], abs=1e-12)
    smoothed = posterior_marginals(smooth(circuit), probs)
    for k in probs:
        assert smoothed[k] == pytest.approx(want[k], abs=1e-12)
    best, p = mpe(circuit, probs)
    worlds = _worlds_of(sorted(probs))
    values = [_brute_circuit_world(circuit, probs, w) for w in worlds]
    assert p == pytest.approx(max(values), rel=1e-12)
    assert _brute_circuit_world(circuit, probs, best) == pytest.approx(p, rel=1e-12)
    k = 4000
    draws = sample(circuit, probs, k=k, seed=3)
    for key in probs:
        assert draws[key].mean() == pytest.approx(want[key], abs=tolerance(k))


def _brute_circuit_world(circuit, probs, w) -> float:
    from nesy_ir import evaluate_circuit

    model = float(evaluate_circuit(circuit, {k: float(w[k]) for k in probs})[circuit.names[0]])
    return model * math.prod(probs[k] if w[k] else 1 - probs[k] for k in probs)


def _as_logprob(node: Node, memo: dict) -> Node:
    """The same circuit in the logprob structure (labels: logarithms)."""
    if node in memo:
        return memo[node]
    if node.kind is Kind.ATOM:
        out = atom(node.arg.predicate, node.arg.args, "logprob", node.arg.rvar)
    elif node.kind is Kind.CONST:
        out = const(float(np.log(node.arg)) if node.arg > 0 else -np.inf, "logprob")
    else:
        out = apply(node.arg, *(_as_logprob(c, memo) for c in node.children))
    memo[node] = out
    return out


@settings(max_examples=25)
@given(programs())
def test_logprob_circuit_equals_prob(program):
    cp, labels = compiled(program)
    prob_total = cp.probabilities(program.labels())[program.root]
    if prob_total <= 0:
        return
    memo: dict = {}
    log_circuit = Circuit([_as_logprob(r, memo) for r in cp.circuit.roots], cp.circuit.names)
    values = {**cp.labelling._values, **program.labels()}
    with np.errstate(divide="ignore"):
        log_labels = Labelling({k: np.log(v) for k, v in values.items()})
    want = posterior_marginals(cp.circuit, labels, program.root)
    got = posterior_marginals(log_circuit, log_labels, program.root)
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=1e-9)
    best_p, best_l = (
        mpe(cp.circuit, labels, program.root),
        mpe(log_circuit, log_labels, program.root),
    )
    assert best_l[1] == pytest.approx(best_p[1], rel=1e-9)
    k = 2000
    draws = sample(log_circuit, log_labels, program.root, k=k, seed=5)
    for key in want:
        assert draws[key].mean() == pytest.approx(want[key], abs=tolerance(k))


def test_mixed_structures_through_transformations():
    # tau[prob->logprob](a[t] + a[f] * b[t]) as the root: the log of a weighted count
    inner = _lit("a", True) + _lit("a", False) * _lit("b", True)
    circuit = Circuit(transform(inner, "logprob"), ["r"])
    probs = {"a": 0.3, "b": 0.6}
    want, _ = _brute_circuit(Circuit(inner, ["r"]), probs)
    got = posterior_marginals(circuit, probs)
    for k in probs:
        assert got[k] == pytest.approx(want[k], abs=1e-12)


# --- random programs ------------------------------------------------------------------------


@given(programs())
def test_programs_against_brute_force(program):
    cp, labels = compiled(program)
    keys = sorted(
        {
            f"{n.arg.predicate}" + (f"({','.join(map(str, n.arg.args))})" if n.arg.args else "")
            for n in cp.circuit.nodes()
            if n.kind is Kind.ATOM
        }
    )
    total, want, joint = program.brute(keys)
    if total <= 1e-15:
        with pytest.raises(ImpossibleEvidenceError):
            posterior_marginals(cp.circuit, labels, program.root)
        return
    got = posterior_marginals(cp.circuit, labels, program.root)
    assert sorted(got) == keys
    for k in keys:
        assert got[k] == pytest.approx(want[k], abs=1e-9), k
    # categorical: each image's values (and the disjunction's alternatives) sum to one
    for m in range(len(program.digits)):
        values = [got.get(f"digit(tensor(i{m}),{v})") for v in range(DIGITS)]
        if all(v is not None for v in values):
            assert sum(values) == pytest.approx(1.0, abs=1e-9)
    alternatives = [k for k in keys if k.startswith(("_ad", "_none"))]
    if alternatives and (sum(program.ad) >= 1 - 1e-9 or any(k.startswith("_none") for k in keys)):
        assert sum(got[k] for k in alternatives) == pytest.approx(1.0, abs=1e-9)
    # MPE: the best joint of the circuit's atoms and the root
    best, p = mpe(cp.circuit, labels, program.root)
    assert p == pytest.approx(max(joint.values()), rel=1e-9)
    assert joint[tuple(best[k] for k in keys)] == pytest.approx(p, rel=1e-9)
    for m in range(len(program.digits)):
        picked = [best.get(f"digit(tensor(i{m}),{v})", False) for v in range(DIGITS)]
        assert sum(picked) in (0, 1)  # one value per digit (0: the image is not in the circuit)
        if f"digit(tensor(i{m}),0)" in best:
            assert sum(picked) == 1
    # samples: models of the root, with the posterior's frequencies
    k = 3000
    draws = sample(cp.circuit, labels, program.root, k=k, seed=7)
    assert sorted(draws) == keys
    for i in range(0, k, 97):
        values = tuple(bool(draws[key][i]) for key in keys)
        assert joint.get(values, 0.0) > 0  # a model of the root with non-zero weight
    for key in keys:
        assert draws[key].mean() == pytest.approx(want[key], abs=tolerance(k)), key


ADDITION = (
    "nn(net,[X],Y,[0,1,2]) :: digit(X,Y).\n"
    "add(X,Y,Z) :- digit(X,A), digit(Y,B), Z is A+B.\n"
    "query(add(tensor(a),tensor(b),2)). query(add(tensor(a),tensor(b),3))."
)


def test_numpy_posterior_matrix_of_neural_atoms():
    from nesy_ir import get_backend
    from nesy_ir.inference import posterior_matrix

    cp = nesy_compile.compile_program(ADDITION)
    rng = np.random.default_rng(0)
    keys = [f"digit(tensor({t}),{v})" for t in "ab" for v in range(DIGITS)]
    x = np.concatenate([rng.dirichlet(np.ones(DIGITS), 4) for _ in "ab"], axis=1)
    lowered = get_backend("numpy").lower(cp.circuit, cp.labelling, keys)
    labels = cp.labelling.with_values(dict(zip(keys, x.T, strict=True)))
    for r, name in enumerate(cp.circuit.names):
        want = posterior_marginals(cp.circuit, labels, name)
        got = posterior_matrix(lowered, x, name)
        np.testing.assert_array_equal(got, posterior_matrix(lowered, x, r))
        for j, k in enumerate(keys):
            np.testing.assert_allclose(got[:, j], want[k], rtol=1e-12)
        np.testing.assert_allclose(got[:, :DIGITS].sum(1), 1.0, rtol=1e-12)  # categorical


def test_numpy_posterior_matrix_of_facts_is_the_total_derivative():
    from nesy_ir import get_backend
    from nesy_ir.inference import posterior_matrix

    cp = nesy_compile.compile_program(ALARM)
    lowered = get_backend("numpy").lower(cp.circuit, cp.labelling, ["burglary", "earthquake"])
    x = np.array([[0.1, 0.2], [0.4, 0.7]])
    got = posterior_matrix(lowered, x)
    b, e = x[:, 0], x[:, 1]
    f = b + (1 - b) * e
    np.testing.assert_allclose(got[:, 0], b * (1 - e) / f, rtol=1e-12)  # d log f / d log b
    np.testing.assert_allclose(got[:, 1], e * (1 - b) / f, rtol=1e-12)
