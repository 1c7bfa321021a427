"""nesy-jax gradients: central finite differences of the reference, finite at the boundary."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests.backend_strategies import circuits, labels_for

from nesy_ir import Circuit, apply, atom, const, evaluate_circuit, transform

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from nesy_jax import lower  # noqa: E402

DIFFERENTIABLE = ["prob", "logprob", "maxprod", "real", "godel", "lukasiewicz", "product"]
UNIT = ["prob", "maxprod", "godel", "lukasiewicz", "product"]


def _objective(circuit: Circuit, labels: dict, weights: np.ndarray):
    """(JAX gradient of sum_r w_r * root_r w.r.t. the label matrix, matrix, reference fn)."""
    keys = sorted(labels)
    x = np.stack([np.asarray(labels[k], float) for k in keys], axis=1)
    run = lower(circuit, dynamic=keys, jit=False)

    def reference(matrix: np.ndarray) -> float:
        columns = {k: matrix[:, i] for i, k in enumerate(keys)}
        out = evaluate_circuit(circuit, {k: _like(labels[k], v) for k, v in columns.items()})
        return sum(float(w * np.sum(out[n])) for w, n in zip(weights, circuit.names, strict=True))

    def loss(matrix):
        return jnp.sum(run.matrix(matrix) * jnp.asarray(weights))

    return jax.grad(loss)(jnp.asarray(x)), x, reference


def _like(label: np.ndarray, column: np.ndarray) -> np.ndarray:
    return column.astype(bool) if np.asarray(label).dtype == bool else column


@pytest.mark.slow  # ~1-2 s per structure idle, 15-35 s on a loaded 2-core machine
@pytest.mark.parametrize("structure", DIFFERENTIABLE)
@settings(max_examples=10, deadline=None)
@given(data=st.data(), seed=st.integers(0, 10_000))
def test_gradient_equals_central_differences(structure, data, seed):
    circuit = data.draw(circuits(structure, max_nodes=8))
    labels = labels_for(circuit, seed, batch=2)
    assume(labels)
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, len(circuit.names))
    with jax.enable_x64(True):
        grad, x, reference = _objective(circuit, labels, weights)
    assume(np.isfinite(reference(x)))  # no differences of infinities (log 0 in logprob)
    keys = sorted(labels)
    eps = 1e-6
    for j, key in enumerate(keys):
        if np.asarray(labels[key]).dtype == bool:
            continue  # Boolean atoms have no gradient to check
        for b in range(x.shape[0]):
            up, down = x.copy(), x.copy()
            up[b, j] += eps
            down[b, j] -= eps
            numeric = (reference(up) - reference(down)) / (2 * eps)
            assert float(grad[b, j]) == pytest.approx(numeric, rel=1e-4, abs=1e-5), (key, b)


@pytest.mark.slow  # as above: eager JAX gradients of ten random circuits per structure
@pytest.mark.parametrize("structure", UNIT)
@settings(max_examples=10, deadline=None)
@given(data=st.data(), seed=st.integers(0, 10_000))
def test_unit_interval_gradients_are_finite_at_zero_and_one(structure, data, seed):
    circuit = data.draw(circuits(structure))
    labels = labels_for(circuit, seed, batch=6, boundary=True)
    assume(labels)
    keys = sorted(labels)
    x = jnp.stack([jnp.asarray(labels[k], jnp.float32) for k in keys], axis=1)
    run = lower(circuit, dynamic=keys, jit=False, check=False)
    grad = jax.grad(lambda m: jnp.sum(run.matrix(m)))(x)
    # log-space labels (under a logprob->prob transformation) have an infinite derivative at 0
    unit = [j for j, k in enumerate(keys) if not k.startswith("logprob_")]
    assert bool(jnp.all(jnp.isfinite(grad[:, unit])))


def test_product_gradient_at_exact_zeros():
    a, b, c = (atom(n, (), "prob") for n in "abc")
    run = lower(Circuit([apply("times", a, b, c)]), dynamic=["a", "b", "c"])
    grad = jax.grad(lambda m: jnp.sum(run.matrix(m)))(
        jnp.array([[0.0, 0.5, 0.25], [0.0, 0.0, 0.5]])
    )
    np.testing.assert_allclose(grad, [[0.125, 0.0, 0.0], [0.0, 0.0, 0.0]])


def test_logsumexp_of_minus_infinities_is_minus_infinity_with_zero_gradient():
    a, b = atom("a", (), "logprob"), atom("b", (), "logprob")
    circuit = Circuit([apply("plus", a, b, const(-np.inf, "logprob")), apply("neg", a)])
    run = lower(circuit, dynamic=["a", "b"])
    x = jnp.array([[-jnp.inf, -jnp.inf], [-1.0, -jnp.inf], [-1e-12, -40.0]])
    out = run.matrix(x)
    assert out[0, 0] == -jnp.inf and out[1, 0] == pytest.approx(-1.0)
    np.testing.assert_allclose(out[:, 1], [0.0, np.log1p(-np.exp(-1.0)), np.log(1e-12)], 1e-4)
    grad = jax.grad(lambda m: jnp.sum(run.matrix(m)[:, 0]))(x)
    assert not bool(jnp.any(jnp.isnan(grad)))
    np.testing.assert_allclose(grad[0], [0.0, 0.0])
    np.testing.assert_allclose(grad[1], [1.0, 0.0])
    neg_grad = jax.grad(lambda m: jnp.sum(run.matrix(m)[1:, 1]))(x)
    assert bool(jnp.all(jnp.isfinite(neg_grad)))


def test_a_log_of_zero_that_a_logsumexp_absorbs_has_a_zero_gradient():
    """x + log(0 * p) in log space is x: the gradient w.r.t. p is 0, not 0 / 0 (as in torch);
    so is that of log(1 - exp 0) under a logsumexp."""
    x, p, q = atom("x", (), "logprob"), atom("p", (), "prob"), atom("q", (), "logprob")
    absorbed = apply("plus", x, transform(apply("times", const(0.0, "prob"), p), "logprob"))
    circuit = Circuit([absorbed, apply("plus", x, apply("neg", q))])
    run = lower(circuit, dynamic=["p", "q", "x"])
    labels = jnp.array([[0.3, 0.0, -0.5], [0.8, 0.0, -2.0]])
    grad = jax.grad(lambda m: jnp.sum(run.matrix(m)))(labels)
    assert bool(jnp.all(jnp.isfinite(grad)))
    np.testing.assert_allclose(grad[:, 0], [0.0, 0.0])  # p: absorbed
    np.testing.assert_allclose(grad[:, 1], [0.0, 0.0])  # q: log1mexp(0) = -inf, absorbed
    np.testing.assert_allclose(grad[:, 2], [2.0, 2.0])  # x: 1 through each root
