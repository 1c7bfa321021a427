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


def _same(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(
            np.asarray(actual[name], float), np.asarray(value, float), rtol=1e-9, atol=1e-12
        )


@pytest.mark.parametrize("structure", STRUCTURES)
@settings(max_examples=25, deadline=None)
@given(data=st.data(), seed=st.integers(0, 10_000), boundary=st.booleans())
def test_backend_evaluate_equals_reference(structure, data, seed, boundary):
    circuit = data.draw(circuits(structure))
    labels = labels_for(circuit, seed, batch=4, boundary=boundary)
    _same(backend.evaluate_circuit(circuit, labels), evaluate_circuit(circuit, labels))


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
        _same(run({k: labels[k] for k in dynamic}), expected)
