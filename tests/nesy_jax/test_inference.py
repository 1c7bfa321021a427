"""Posterior marginals by jax.grad equal the NumPy reference's (float64)."""

import numpy as np
import pytest
from hypothesis import given, settings

jax = pytest.importorskip("jax")
nesy_compile = pytest.importorskip("nesy_compile")
if not nesy_compile.pysdd_available():
    pytest.skip("needs PySDD", allow_module_level=True)

from tests.inference_strategies import DIGITS, programs  # noqa: E402

from nesy_ir import inference  # noqa: E402
from nesy_jax import lower, posterior_marginals, posterior_matrix  # noqa: E402

ADDITION = (
    "nn(net,[X],Y,[0,1,2]) :: digit(X,Y).\n"
    "add(X,Y,Z) :- digit(X,A), digit(Y,B), Z is A+B.\n"
    "query(add(tensor(a),tensor(b),2)). query(add(tensor(a),tensor(b),3))."
)


@settings(max_examples=30)
@given(programs())
def test_marginals_equal_numpy(program):
    cp = nesy_compile.compile_program(program.text())
    labels = cp.labelling.with_values(program.labels())
    try:
        want = inference.posterior_marginals(cp.circuit, labels, program.root)
    except inference.ImpossibleEvidenceError:
        with pytest.raises(inference.ImpossibleEvidenceError, match=program.root):
            posterior_marginals(cp.circuit, labels, program.root)
        return
    got = posterior_marginals(cp.circuit, labels, program.root)
    assert sorted(got) == sorted(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-12)


def _digit_labels(seed: int, batch: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    keys = [f"digit(tensor({t}),{v})" for t in "ab" for v in range(DIGITS)]
    x = np.concatenate([rng.dirichlet(np.ones(DIGITS), batch) for _ in "ab"], axis=1)
    return keys, x


def test_batched_matrix_equals_marginals():
    cp = nesy_compile.compile_program(ADDITION)
    keys, x = _digit_labels(0, 5)
    for r, name in enumerate(cp.circuit.names):
        want = inference.posterior_marginals(
            cp.circuit, cp.labelling.with_values(dict(zip(keys, x.T, strict=True))), name
        )
        got = posterior_marginals(
            cp.circuit, cp.labelling.with_values(dict(zip(keys, x.T, strict=True))), name
        )
        with jax.enable_x64(True):
            lowered = lower(cp.circuit, cp.labelling, keys, dtype="float64")
            matrix = np.asarray(posterior_matrix(lowered, x, name))
            assert matrix.shape == (5, len(keys)) and matrix.dtype == np.float64
            np.testing.assert_array_equal(matrix, posterior_matrix(lowered, x, r))
            jitted = jax.jit(lambda x, lo=lowered, r=r: posterior_matrix(lo, x, r))(x)  # under jit
            np.testing.assert_allclose(jitted, matrix, rtol=1e-12)
        for j, k in enumerate(keys):
            np.testing.assert_allclose(got[k], want[k], rtol=1e-10)
            np.testing.assert_allclose(matrix[:, j], want[k], rtol=1e-10)
        np.testing.assert_allclose(matrix[:, :DIGITS].sum(1), 1.0, rtol=1e-12)


def test_matrix_impossible_root():
    cp = nesy_compile.compile_program(ADDITION)
    keys, x = _digit_labels(1, 3)
    x[1, :DIGITS] = [1.0, 0.0, 0.0]
    x[1, DIGITS:] = [1.0, 0.0, 0.0]  # a = b = 0: a + b = 2 is impossible
    with jax.enable_x64(True):
        lowered = lower(cp.circuit, cp.labelling, keys, dtype="float64")
        with pytest.raises(inference.ImpossibleEvidenceError, match="batch elements \\[1\\]"):
            posterior_matrix(lowered, x, "add(tensor(a),tensor(b),2)")
