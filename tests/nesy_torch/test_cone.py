"""The cone path (only the roots each example asks for) equals the whole circuit and the NumPy
reference, in every built-in structure, values and gradients."""

from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from tests.backend_strategies import circuits, labels_for  # noqa: E402
from tests.nesy_torch.test_conformance import STRUCTURES, _close  # noqa: E402
from tests.nesy_torch.test_fused import cancels  # noqa: E402

from nesy_ir import evaluate_circuit  # noqa: E402
from nesy_ir.errors import NesyError  # noqa: E402
from nesy_torch import cone as cone_module  # noqa: E402
from nesy_torch import lower, lower_cone  # noqa: E402

BATCH = 5


def _asked(data, circuit, groups: int) -> np.ndarray:
    roots = st.integers(0, len(circuit.roots) - 1)
    return np.array(data.draw(st.lists(roots, min_size=BATCH * groups, max_size=BATCH * groups)))


def _matrix(module, labels: dict) -> torch.Tensor:
    columns = [np.asarray(labels[k], dtype=float) for k in module.keys]
    return torch.as_tensor(np.stack(columns, 1) if columns else np.zeros((BATCH, 0)))


@pytest.mark.parametrize("structure", STRUCTURES)
@given(data=st.data(), seed=st.integers(0, 2**16), groups=st.integers(1, 3))
def test_values_equal_reference(structure, data, seed, groups):
    circuit = data.draw(circuits(structure))
    labels = labels_for(circuit, seed, batch=BATCH)
    roots = _asked(data, circuit, groups).reshape(BATCH, groups)
    cone = lower_cone(circuit, dynamic=labels, dtype=torch.float64)
    got = cone(_matrix(cone, labels), roots).numpy()
    want = evaluate_circuit(circuit, labels)
    for b in range(BATCH):
        for g in range(groups):
            value = np.broadcast_to(np.asarray(want[circuit.names[roots[b, g]]], float), (BATCH,))
            _close(got[b, g : g + 1], value[b : b + 1])


def _drawn(structure: str, data, seed: int):
    """A drawn circuit, its labels, two asked roots per example, its cone and the labels as a
    matrix that wants a gradient."""
    circuit = data.draw(circuits(structure))
    labels = labels_for(circuit, seed, batch=BATCH)
    roots = _asked(data, circuit, 2).reshape(BATCH, 2)
    cone = lower_cone(circuit, dynamic=labels, dtype=torch.float64)
    return circuit, labels, roots, cone, _matrix(cone, labels).requires_grad_()


def _same(circuit, labels: dict, seed: int, x, got, want) -> None:
    """``got`` equals ``want``, values and gradients (under random weights) w.r.t. ``x``."""
    assume(want.requires_grad and torch.isfinite(want).all())
    assume(not cancels(circuit, labels, BATCH))
    weights = torch.as_tensor(np.random.default_rng(seed).random(want.shape))
    (dwant,) = torch.autograd.grad((want * weights).sum(), x)
    (dgot,) = torch.autograd.grad((got * weights).sum(), x)
    np.testing.assert_allclose(got.detach(), want.detach(), rtol=1e-12)
    np.testing.assert_allclose(dgot, dwant, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("structure", ["prob", "logprob", "real", "maxprod", "product"])
@settings(max_examples=40)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_gradients_equal_whole_circuit(structure, data, seed):
    circuit, labels, roots, cone, x = _drawn(structure, data, seed)
    whole = lower(circuit, dynamic=labels, dtype=torch.float64, klay=False)
    assert cone.keys == whole.keys
    want = whole.matrix(x).gather(1, torch.as_tensor(roots))
    got = cone(x, roots)
    assume(want.requires_grad and torch.isfinite(want).all())
    assume(not cancels(circuit, labels, BATCH))
    (dwant,) = torch.autograd.grad(want.sum(), x)
    (dgot,) = torch.autograd.grad(got.sum(), x)
    np.testing.assert_allclose(got.detach(), want.detach(), rtol=1e-12)
    np.testing.assert_allclose(dgot, dwant, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("structure", STRUCTURES)
@settings(max_examples=30)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_one_autograd_node_gives_the_gradients_of_every_op_recorded(structure, native, data, seed):
    """The cone as one autograd node (the default), in C where it can or in torch, against the
    same cone op by op."""
    circuit, labels, roots, cone, x = _drawn(structure, data, seed)
    cone.fuse = False
    want = cone(x, roots)
    cone.fuse, cone.native = True, native
    got = cone(x, roots)
    _same(circuit, labels, seed, x, got, want)


@pytest.mark.parametrize("structure", STRUCTURES)
@settings(max_examples=20)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_a_batch_in_groups_of_examples_equals_one_cone(structure, data, seed):
    """Every example its own group (each over its own cone) against the whole batch's cone."""
    circuit, labels, roots, cone, x = _drawn(structure, data, seed)
    want = cone(x, roots)
    with patch.multiple(cone_module, TILE_VALUES=1, NARROWEST=1):
        got = cone(x, roots)
    _same(circuit, labels, seed, x, got, want)


def test_nodes_of_one_child_in_the_fused_cone():
    """A plus of one child (built directly; ``apply`` folds it away): its gradient is spread to
    the child by a copy, never a view of the buffer the backward adds into."""
    from nesy_ir import Circuit, apply, atom
    from nesy_ir.nodes import Kind, Node

    a, b = atom("a", (), "prob"), atom("b", (), "prob")
    one = Node(Kind.APPLY, "prob", "plus", (apply("times", a, b),))
    circuit = Circuit([one, apply("plus", one, a)], ["one", "two"])
    cone = lower_cone(circuit, dynamic=["a", "b"], dtype=torch.float64)
    x = torch.tensor([[0.5, 0.25], [0.2, 0.4]], dtype=torch.float64, requires_grad=True)
    asked = [[0, 1], [1, 0]]
    grads = []
    for fuse in (True, False):
        cone.fuse = fuse
        (grad,) = torch.autograd.grad(cone(x, asked).sum(), x)
        grads.append(grad)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)
    np.testing.assert_allclose(grads[0], [[2 * 0.25 + 1, 2 * 0.5], [2 * 0.4 + 1, 2 * 0.2]])


def test_bad_roots_are_refused():
    from nesy_ir import Circuit, apply, atom

    a, b = atom("a", (), "prob"), atom("b", (), "prob")
    cone = lower_cone(
        Circuit([apply("times", a, b), apply("plus", a, b)], ["and", "or"]), dynamic=["a", "b"]
    )
    x = torch.tensor([[0.5, 0.25], [0.5, 0.25]])  # a, b of each example
    with pytest.raises(NesyError, match=r"root indices must lie in 0\.\.1"):
        cone(x, [[0], [2]])
    with pytest.raises(NesyError, match="roots must be"):
        cone(x, [0, 1])
    np.testing.assert_allclose(cone(x, [[1, 0], [0, 0]]).numpy(), [[0.75, 0.125], [0.125, 0.125]])


def test_a_user_kernel_without_a_scatter_form_reduces_padded_nodes():
    """A reduction registered by its dense form alone pads nodes with fewer children."""
    from tests.nesy_torch.test_lowering_api import _tropical

    from nesy_ir import Circuit, apply, atom
    from nesy_ir.lowering import KERNELS
    from nesy_torch import register_kernel

    _tropical("softmax_cone_t")
    KERNELS["softmax_cone_t"] = {"plus": "smooth_max_cone", "times": "sum"}
    register_kernel("smooth_max_cone", lambda x: torch.logsumexp(x, dim=1), neutral=-np.inf)
    a, b, c = (atom(n, (), "softmax_cone_t") for n in "abc")
    ab, bc = apply("times", a, b), apply("times", b, c)
    circuit = Circuit([apply("plus", ab, c), apply("plus", ab, bc, c)], ["two", "three"])
    x = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], dtype=torch.float64)
    x.requires_grad_()
    whole = lower(circuit, dynamic="abc", dtype=torch.float64).matrix(x)
    cone = lower_cone(circuit, dynamic="abc", dtype=torch.float64)
    asked = torch.tensor([[0, 1], [1, 1]])  # example 0: both plus nodes, of 2 and 3 children
    want, got = whole.gather(1, asked), cone(x, asked)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy())
    (dwant,) = torch.autograd.grad(want.sum(), x)
    (dgot,) = torch.autograd.grad(got.sum(), x)  # autograd within the padded nodes' layer
    np.testing.assert_allclose(dgot.numpy(), dwant.numpy(), rtol=1e-12)


@given(size=st.integers(1, 5_000_000), batch=st.integers(1, 5000))
def test_groups_hold_every_example_within_the_budget_aligned_and_not_too_narrow(size, batch):
    width = cone_module.group_width(size, batch)
    if size * batch <= cone_module.TILE_VALUES:
        assert width == batch  # one group
        return
    assert width % cone_module.ALIGN == 0 and width >= cone_module.NARROWEST
    assert width == cone_module.NARROWEST or width * size <= cone_module.TILE_VALUES
    assert (width + cone_module.ALIGN) * size > cone_module.TILE_VALUES  # the widest that fits
