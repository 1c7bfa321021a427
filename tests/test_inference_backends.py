"""Posterior marginals and the posterior matrix on every backend (NumPy's backward pass, torch
autograd, jax.grad) equal the NumPy reference's, in float64."""

import contextlib
import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from tests.inference_strategies import DIGITS, programs

from nesy_ir import get_backend, inference
from nesy_ir.backends import available_backends

nesy_compile = pytest.importorskip("nesy_compile")
if not nesy_compile.pysdd_available():
    pytest.skip("needs PySDD", allow_module_level=True)

#: where each backend's posterior_marginals and posterior_matrix live
MODULES = {"numpy": "nesy_ir.inference", "torch": "nesy_torch", "jax": "nesy_jax"}
BACKENDS = [b for b in MODULES if b in available_backends()]
ADDITION = (
    "nn(net,[X],Y,[0,1,2]) :: digit(X,Y).\n"
    "add(X,Y,Z) :- digit(X,A), digit(Y,B), Z is A+B.\n"
    "query(add(tensor(a),tensor(b),2)). query(add(tensor(a),tensor(b),3))."
)


def precision(name: str):
    """float64 where the backend needs a switch for it (JAX's 64-bit mode)."""
    if name == "jax":
        import jax

        return jax.enable_x64(True)
    return contextlib.nullcontext()


def plain(x) -> np.ndarray:
    return np.asarray(x.detach() if hasattr(x, "detach") else x, dtype=float)


@pytest.mark.parametrize("name", [b for b in BACKENDS if b != "numpy"])
@settings(max_examples=30, deadline=None)
@given(program=programs())
def test_marginals_equal_numpy(name, program):
    backend = importlib.import_module(MODULES[name])
    cp = nesy_compile.compile_program(program.text())
    labels = cp.labelling.with_values(program.labels())
    try:
        want = inference.posterior_marginals(cp.circuit, labels, program.root)
    except inference.ImpossibleEvidenceError:
        with pytest.raises(inference.ImpossibleEvidenceError, match=program.root):
            backend.posterior_marginals(cp.circuit, labels, program.root)
        return
    got = backend.posterior_marginals(cp.circuit, labels, program.root)
    assert sorted(got) == sorted(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-12)


def _digit_labels(seed: int, batch: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    keys = [f"digit(tensor({t}),{v})" for t in "ab" for v in range(DIGITS)]
    x = np.concatenate([rng.dirichlet(np.ones(DIGITS), batch) for _ in "ab"], axis=1)
    return keys, x


@pytest.mark.parametrize("name", BACKENDS)
def test_batched_matrix_equals_marginals(name):
    backend = importlib.import_module(MODULES[name])
    cp = nesy_compile.compile_program(ADDITION)
    keys, x = _digit_labels(0, 5)
    labels = cp.labelling.with_values(dict(zip(keys, x.T, strict=True)))
    with precision(name):
        lowered = get_backend(name).lower(cp.circuit, cp.labelling, keys, dtype="float64")
        for r, root in enumerate(cp.circuit.names):
            want = inference.posterior_marginals(cp.circuit, labels, root)
            got = backend.posterior_marginals(cp.circuit, labels, root)
            matrix = plain(backend.posterior_matrix(lowered, x, root))
            assert matrix.shape == (5, len(keys))
            np.testing.assert_array_equal(matrix, plain(backend.posterior_matrix(lowered, x, r)))
            for j, k in enumerate(keys):
                np.testing.assert_allclose(got[k], want[k], rtol=1e-10)
                np.testing.assert_allclose(matrix[:, j], want[k], rtol=1e-10)
            np.testing.assert_allclose(matrix[:, :DIGITS].sum(1), 1.0, rtol=1e-12)


def test_matrix_is_detached_on_torch_and_jits_on_jax():
    cp = nesy_compile.compile_program(ADDITION)
    keys, x = _digit_labels(2, 4)
    root = cp.circuit.names[0]
    if "torch" in BACKENDS:
        import torch

        from nesy_torch import lower, posterior_matrix

        lowered = lower(cp.circuit, cp.labelling, keys, dtype="float64")
        assert not posterior_matrix(lowered, torch.tensor(x, requires_grad=True), 0).requires_grad
    if "jax" in BACKENDS:
        import jax

        from nesy_jax import lower, posterior_matrix

        with jax.enable_x64(True):
            lowered = lower(cp.circuit, cp.labelling, keys, dtype="float64")
            eager = posterior_matrix(lowered, x, root)
            jitted = jax.jit(lambda x: posterior_matrix(lowered, x, 0))(x)
            np.testing.assert_allclose(jitted, eager, rtol=1e-12)


@pytest.mark.parametrize("name", BACKENDS)
def test_matrix_impossible_root(name):
    backend = importlib.import_module(MODULES[name])
    cp = nesy_compile.compile_program(ADDITION)
    keys, x = _digit_labels(1, 3)
    x[1, :DIGITS] = [1.0, 0.0, 0.0]
    x[1, DIGITS:] = [1.0, 0.0, 0.0]  # a = b = 0: a + b = 2 is impossible
    with precision(name):
        lowered = get_backend(name).lower(cp.circuit, cp.labelling, keys, dtype="float64")
        with pytest.raises(inference.ImpossibleEvidenceError, match="batch elements \\[1\\]"):
            backend.posterior_matrix(lowered, x, "add(tensor(a),tensor(b),2)")


@pytest.mark.parametrize("name", BACKENDS)
def test_matrix_with_derived_false_labels_equals_the_derivative(name):
    """Keys of probabilistic facts (their false labels derived): x * d log f / d x."""
    backend = importlib.import_module(MODULES[name])
    cp = nesy_compile.compile_program(
        "0.1::burglary. 0.2::earthquake. alarm :- burglary. alarm :- earthquake. query(alarm)."
    )
    x = np.array([[0.1, 0.2], [0.4, 0.7], [0.9, 0.05]])
    b, e = x[:, 0], x[:, 1]
    f = 1 - (1 - b) * (1 - e)  # P(alarm); d f / d b = 1 - e, d f / d e = 1 - b
    want = np.stack([b * (1 - e) / f, e * (1 - b) / f], axis=1)
    with precision(name):
        lowered = get_backend(name).lower(
            cp.circuit, cp.labelling, ["burglary", "earthquake"], dtype="float64"
        )
        got = plain(backend.posterior_matrix(lowered, x, "alarm"))
    np.testing.assert_allclose(got, want, rtol=1e-12)
