"""Every backend against the reference and each other: values, and gradients torch vs jax vs
finite differences of the NumPy reference, on random circuits in every built-in structure."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.backend_strategies import circuits, labels_for

from nesy_ir import evaluate_circuit
from nesy_ir.backends import get_backend

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
pytest.importorskip("nesy_torch")
pytest.importorskip("nesy_jax")

#: Structures whose operations are smooth at random interior labels (max / min have ties at
#: shared leaves, where the backends may split a subgradient differently).
SMOOTH = ("prob", "logprob", "real", "product", "lukasiewicz")
#: log(1e-13): a log-probability this low can be the complement of rounding noise (~1e-16).
LOG_NOISE_FLOOR = float(np.log(1e-13))

ALL = ("bool", "prob", "logprob", "maxprod", "real", "godel", "lukasiewicz", "product")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ALL).flatmap(circuits), st.integers(0, 10_000), st.booleans())
def test_every_backend_equals_the_reference(circuit, seed, boundary):
    labels = labels_for(circuit, seed, boundary=boundary)
    expected = evaluate_circuit(circuit, labels)
    log_domain = {
        name: root.structure == "logprob"
        for name, root in zip(circuit.names, circuit.roots, strict=True)
    }
    for name in ("numpy", "torch", "jax"):
        got = get_backend(name).evaluate_circuit(circuit, labels)
        for root, value in expected.items():
            actual, wanted = np.asarray(got[root], float), np.asarray(value, float)
            if log_domain[root]:
                # the complement log(1 - e^x) turns a rounding error d of x near 0 into log d:
                # log-probabilities both below the floor are a zero probability on either side
                noise = (actual <= LOG_NOISE_FLOOR) & (wanted <= LOG_NOISE_FLOOR)
                actual, wanted = (
                    np.where(noise, -np.inf, actual),
                    np.where(noise, -np.inf, wanted),
                )
            np.testing.assert_allclose(actual, wanted, rtol=1e-9, atol=1e-12, err_msg=name)


def _torch_gradient(circuit, static, keys, x):
    import nesy_torch

    module = nesy_torch.lower(circuit, static, dynamic=keys, dtype=torch.float64)
    order = [keys.index(k) for k in module.keys]
    t = torch.tensor(x[:, order], requires_grad=True)
    module.matrix(t).sum().backward()
    grad = np.empty_like(x)
    grad[:, order] = t.grad.numpy()
    return grad


def _jax_gradient(circuit, static, keys, x):
    import nesy_jax

    with jax.enable_x64(True):
        lowered = nesy_jax.lower(circuit, static, dynamic=keys, dtype="float64")
        order = [keys.index(k) for k in lowered.keys]
        g = jax.grad(lambda m: lowered.matrix(m).sum())(jax.numpy.asarray(x[:, order]))
    grad = np.empty_like(x)
    grad[:, order] = np.asarray(g)
    return grad


def _finite_differences(circuit, static, keys, x, h=1e-6):
    def total(m):
        values = evaluate_circuit(circuit, static | {k: m[:, i] for i, k in enumerate(keys)})
        return sum(np.asarray(v, float) for v in values.values())

    grad = np.empty_like(x)
    for i in range(len(keys)):
        up, down = x.copy(), x.copy()
        up[:, i] += h
        down[:, i] -= h
        grad[:, i] = (total(up) - total(down)) / (2 * h)
    return grad


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SMOOTH).flatmap(circuits), st.integers(0, 10_000))
def test_torch_and_jax_gradients_agree_with_finite_differences(circuit, seed):
    labels = labels_for(circuit, seed, batch=3)  # interior: x +- h stays in the carrier
    # Boolean atoms (under a transformation) are fixed truth values, not differentiated
    static = {k: bool(v[0]) for k, v in labels.items() if k.startswith("bool_")}
    keys = sorted(k for k in labels if k not in static)
    if not keys:
        return
    # rows where the value itself is undefined (e.g. a log-probability sum above 0, outside the
    # carrier, negated) have no gradient to agree on
    values = evaluate_circuit(circuit, labels)
    defined = np.all([np.isfinite(np.broadcast_to(v, (3,))) for v in values.values()], axis=0)
    x = np.stack([np.asarray(labels[k], float) for k in keys], 1)[defined]
    if not len(x):
        return
    torch_grad = _torch_gradient(circuit, static, keys, x)
    jax_grad = _jax_gradient(circuit, static, keys, x)
    np.testing.assert_allclose(torch_grad, jax_grad, rtol=1e-7, atol=1e-9)
    fd = _finite_differences(circuit, static, keys, x)
    finite = np.isfinite(fd) & (np.abs(fd) < 1e6)
    np.testing.assert_allclose(torch_grad[finite], fd[finite], rtol=1e-4, atol=1e-5)


def test_a_log_probability_above_zero_has_a_complement_only_within_rounding():
    """log(2p) for p > 1/2 is no log-probability: every backend says NaN, as the reference; a
    value above 0 by rounding (<= LOG_ROUNDING) counts as 0 and its complement is -inf."""
    from nesy_ir import Circuit, apply, atom
    from nesy_ir.algebras import LOG_ROUNDING

    x = atom("x0", (), "logprob")
    complement = apply("neg", apply("plus", x, x))  # log(1 - 2p)
    # and a sum over it: the NaN must not be lost in a logsumexp (JAX once gave -inf)
    circuit = Circuit([complement, apply("plus", x, complement)])
    sums = np.array([np.log(2 * 0.7), LOG_ROUNDING / 2, 0.0, np.log(0.25)])  # log(2p)
    labels = {"x0": sums - np.log(2.0)}
    expected = evaluate_circuit(circuit, labels)
    assert np.isnan(expected["root0"][0]) and np.isnan(expected["root1"][0])
    assert expected["root0"][1] == -np.inf and expected["root0"][2] == -np.inf
    for name in ("torch", "jax"):
        got = get_backend(name).evaluate_circuit(circuit, labels)
        for root, wanted in expected.items():
            np.testing.assert_allclose(np.asarray(got[root], float), wanted, 1e-9, err_msg=name)
