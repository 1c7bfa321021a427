"""The torch lowering equals the NumPy reference on random circuits in every built-in structure."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from tests.backend_strategies import circuits, labels_for  # noqa: E402

from nesy_ir import evaluate_circuit  # noqa: E402
from nesy_ir.algebras import BUILTIN_ALGEBRAS  # noqa: E402
from nesy_torch import lower  # noqa: E402
from nesy_torch.backend import evaluate_circuit as torch_evaluate  # noqa: E402

STRUCTURES = [a.name for a in BUILTIN_ALGEBRAS]


def _close(got: np.ndarray, want: np.ndarray) -> None:
    """Equal values where the reference has a number (no NaN there). A root that reads no
    batched label is a scalar in the reference but (B,) in a lowered batched circuit. Log-values
    below -30 (or -inf) on both sides are the same zero up to cancellation: log(1 - (p + (1 - p)))
    is -inf or about -37 depending on how p + (1 - p) rounds."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    want = np.broadcast_to(want, got.shape)
    number = ~np.isnan(want)
    assert not np.isnan(got[number]).any(), (got, want)
    tiny = (want < -30) & (got < -30)
    keep = number & ~tiny
    np.testing.assert_allclose(got[keep], want[keep], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("structure", STRUCTURES)
@given(data=st.data(), seed=st.integers(0, 2**16), boundary=st.booleans())
def test_values_equal_reference(structure, data, seed, boundary):
    circuit = data.draw(circuits(structure))
    labels = labels_for(circuit, seed, batch=6, boundary=boundary)
    want = evaluate_circuit(circuit, labels)
    got = torch_evaluate(circuit, labels)
    for name in circuit.names:
        _close(got[name], want[name])


@pytest.mark.parametrize("slack", [0.0, 1e9])
@pytest.mark.parametrize("structure", STRUCTURES)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_dense_and_scatter_layouts_agree(structure, slack, data, seed):
    circuit = data.draw(circuits(structure))
    labels = labels_for(circuit, seed, batch=3)
    module = lower(
        circuit, dynamic=labels, dtype=torch.float64, klay=False, native=False, dense_slack=slack
    )
    got = module({k: torch.as_tensor(np.asarray(v, dtype=float)) for k, v in labels.items()})
    want = evaluate_circuit(circuit, labels)
    for name in circuit.names:
        _close(got[name].numpy(), want[name])
