"""nesy-jax equals the reference evaluator on random circuits in every built-in structure."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.backend_strategies import circuits, labels_for

from nesy_ir import evaluate_circuit
from nesy_ir.algebras import BUILTIN_ALGEBRAS

jax = pytest.importorskip("jax")
from nesy_jax import backend, lower  # noqa: E402

STRUCTURES = [a.name for a in BUILTIN_ALGEBRAS]


def _same(actual: dict, expected: dict, structure: str) -> None:
    """Equal values, and no NaN where the reference has none. Log-probabilities compare as
    probabilities: log(1 - exp(x)) near x = 0 turns rounding into large log differences."""
    assert set(actual) == set(expected)
    for name, value in expected.items():
        got, want = np.broadcast_arrays(np.asarray(actual[name], float), np.asarray(value, float))
        assert not np.any(np.isnan(got) & ~np.isnan(want)), (name, got, want)
        if structure == "logprob":
            got, want = np.exp(got), np.exp(want)
        known = ~np.isnan(want)  # the reference's own rounding NaNs (log of 1 - (1 + eps))
        np.testing.assert_allclose(got[known], want[known], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("structure", STRUCTURES)
@settings(max_examples=15, deadline=None)
@given(data=st.data(), seed=st.integers(0, 10_000), boundary=st.booleans())
def test_backend_evaluate_equals_reference(structure, data, seed, boundary):
    circuit = data.draw(circuits(structure))
    labels = labels_for(circuit, seed, batch=4, boundary=boundary)
    expected = evaluate_circuit(circuit, labels)
    _same(backend.evaluate_circuit(circuit, labels), expected, structure)


@pytest.mark.parametrize("structure", STRUCTURES)
@settings(max_examples=15, deadline=None)
@given(data=st.data(), seed=st.integers(0, 10_000))
def test_lowered_with_dynamic_and_static_labels_equals_reference(structure, data, seed):
    circuit = data.draw(circuits(structure))
    labels = labels_for(circuit, seed, batch=3, boundary=True)
    keys = sorted(labels)
    dynamic = keys[::2]
    static = {k: labels[k][0] for k in keys[1::2]}
    expected = evaluate_circuit(circuit, {**labels, **static})
    with jax.enable_x64(True):
        run = lower(circuit, static, dynamic, jit=False)
        _same(run({k: labels[k] for k in dynamic}), expected, structure)
