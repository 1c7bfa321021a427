"""The fused pass's hand-written backward against autograd op by op, and its forward against
the NumPy reference, on random circuits of every built-in structure."""

from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from tests.backend_strategies import circuits, labels_for  # noqa: E402
from tests.nesy_torch.test_conformance import _close  # noqa: E402

from nesy_ir import Circuit, apply, atom, evaluate_circuit  # noqa: E402
from nesy_ir.algebras import BUILTIN_ALGEBRAS  # noqa: E402
from nesy_ir.registry import get_algebra  # noqa: E402
from nesy_torch import fused, lower, register_kernel  # noqa: E402
from nesy_torch.kernels import REDUCTIONS  # noqa: E402

STRUCTURES = [a.name for a in BUILTIN_ALGEBRAS]
LOG_CANCELLED = np.log(1e-12)
LAYOUTS = [0.0, 1.5, 1e9]  # dense_slack: scatter wherever possible, the default, dense everywhere


def _inputs(module, labels: dict, batch: int) -> torch.Tensor:
    columns = [torch.as_tensor(np.asarray(labels[k], float)) for k in module.keys]
    return torch.stack(columns, 1) if columns else torch.zeros(batch, 0, dtype=torch.float64)


def _fused_and_reference(module, x: torch.Tensor, weights: torch.Tensor):
    """(value, gradient) through the fused pass and through autograd op by op."""
    module.fuse = True  # whatever the number of layers
    out = []
    for run in (module.matrix, lambda m: module._traceable(m.t()).t()):
        leaf = x.clone().requires_grad_(True)
        value = run(leaf)
        grad = None
        if value.requires_grad:
            (grad,) = torch.autograd.grad(value, leaf, weights, allow_unused=True)
        out.append((value.detach(), grad))
    return out


@settings(max_examples=30, deadline=None)
@pytest.mark.parametrize("batch", [1, 3])  # batch 1 gathers through the flat tensors
@pytest.mark.parametrize("slack", LAYOUTS)
@pytest.mark.parametrize("structure", STRUCTURES)
@given(data=st.data(), seed=st.integers(0, 2**16), boundary=st.booleans())
def test_fused_backward_equals_autograd(structure, slack, batch, data, seed, boundary):
    _check_fused_backward(structure, slack, batch, data, seed, boundary)


@settings(max_examples=20, deadline=None)
@pytest.mark.parametrize("structure", STRUCTURES)
@given(data=st.data(), seed=st.integers(0, 2**16), boundary=st.booleans())
def test_fused_backward_gathers_again_what_it_did_not_keep(structure, data, seed, boundary):
    """With no room to keep the forward's gathered inputs, the backward gathers them again."""
    with patch.object(fused, "KEEP_GATHERED", 0):
        _check_fused_backward(structure, 1.5, 3, data, seed, boundary)


@settings(max_examples=20, deadline=None)
@pytest.mark.parametrize("structure", STRUCTURES)
@given(data=st.data(), seed=st.integers(0, 2**16), boundary=st.booleans())
def test_a_batch_in_tiles_of_columns_equals_one_pass(structure, data, seed, boundary):
    """A batch wider than a tile (here: every column its own tile), with and without a
    gradient, against autograd op by op and the reference; the values to rounding, as torch
    may add a reduction's terms in another order over one column than over four."""
    with patch.object(fused, "TILE_VALUES", 1):
        _check_fused_backward(structure, 1.5, 4, data, seed, boundary, rtol=1e-13)


@given(
    batch=st.integers(1, 300),
    widths=st.lists(st.integers(1, 5000), max_size=4),
    budget=st.integers(1, 50_000),
)
def test_tiles_are_the_fewest_even_spans_within_the_budget(batch, widths, budget):
    layers = [fused.FusedLayer(torch.zeros(w, dtype=torch.long)) for w in widths]
    with patch.object(fused, "TILE_VALUES", budget):
        spans = fused.tiles(layers, torch.zeros(1, batch))
    columns = np.arange(batch)
    assert np.concatenate([columns[s] for s in spans]).tolist() == columns.tolist()
    most = max(budget // max(widths), 1) if widths else batch  # columns a tile may hold
    assert len(spans) == -(-batch // most)  # as few as hold them
    sizes = [len(columns[s]) for s in spans]
    assert max(sizes) <= most and max(sizes) - min(sizes) <= 1


def _check_fused_backward(structure, slack, batch, data, seed, boundary, rtol=0.0) -> None:
    circuit = data.draw(circuits(structure))
    labels = labels_for(circuit, seed, batch=batch, boundary=boundary)
    module = lower(
        circuit, dynamic=labels, dtype=torch.float64, dense_slack=slack, klay=False, native=False
    )
    x = _inputs(module, labels, batch)
    free = [not get_algebra(s).carrier.boolean for s in _structures(circuit, module.keys)]
    if not any(free):
        return
    weights = np.random.default_rng(seed).uniform(-1, 1, (batch, len(module.names)))
    weights = torch.as_tensor(weights)
    (value, grad), (want_value, want_grad) = _fused_and_reference(module, x, weights)
    torch.testing.assert_close(value, want_value, equal_nan=True, rtol=rtol, atol=0)
    with torch.no_grad():
        torch.testing.assert_close(module.matrix(x), want_value, equal_nan=True, rtol=rtol, atol=0)
    assert (grad is None) == (want_grad is None)
    if grad is not None and not cancels(circuit, labels, batch):
        torch.testing.assert_close(grad, want_grad, equal_nan=True, rtol=1e-9, atol=1e-12)
    reference = evaluate_circuit(circuit, {k: np.asarray(v) for k, v in labels.items()})
    for i, name in enumerate(module.names):
        _close(value[:, i].numpy(), np.asarray(reference[name], dtype=float))


def cancels(circuit: Circuit, labels: dict, batch: int) -> bool:
    """Whether a logprob node of ``circuit`` holds what rounding leaves of a cancelled
    log(1 - (p + (1 - p))): a finite value below log(1e-12) (about -37 or -inf, as p + (1 - p)
    rounds), whose gradient is rounding error times 1e16, so two correct evaluations in
    different orders differ there."""
    nodes = [n for n in circuit.nodes() if n.children and n.structure == "logprob"]
    if not nodes:
        return False
    every = lower(Circuit(nodes), dynamic=labels, dtype=torch.float64, klay=False, native=False)
    values = every.matrix(_inputs(every, labels, batch))
    return bool(((values > -np.inf) & (values < LOG_CANCELLED)).any())


def _structures(circuit: Circuit, keys) -> list[str]:
    from nesy_ir.traverse import atoms

    by_name = {n.arg.predicate: n.structure for n in atoms(circuit.roots)}
    return [by_name[k] for k in keys]


@pytest.mark.parametrize("slack", LAYOUTS)
def test_fused_backward_of_a_user_kernel_is_autograds(slack):
    """A kernel without a formula in the fused pass is differentiated by autograd."""
    try:
        register_kernel("max", lambda x: (x * x).sum(dim=1).sqrt(), neutral=0.0)
        a, b, c = (atom(n, (), "maxprod") for n in "abc")
        module = lower(
            Circuit([apply("plus", a, b, c)]),
            dynamic="abc",
            dtype=torch.float64,
            dense_slack=slack,
            klay=False,
        )
        x = torch.tensor([[0.3, 0.4, 0.0]], dtype=torch.float64)
        (value, grad), (want_value, want_grad) = _fused_and_reference(
            module, x, torch.ones(1, 1, dtype=torch.float64)
        )
        assert value.item() == pytest.approx(0.5)
        torch.testing.assert_close(grad, want_grad)
    finally:
        from nesy_torch.kernels import BUILTIN_REDUCTIONS

        REDUCTIONS["max"] = BUILTIN_REDUCTIONS["max"]


def test_higher_order_gradients_with_every_op_recorded():
    """The fused backward is differentiable once; ``fuse = False`` records every op instead."""
    a, b, c = (atom(n, (), "prob") for n in "abc")
    circuit = Circuit([apply("times", apply("plus", apply("times", a, b), c), apply("plus", a, c))])
    module = lower(circuit, dynamic="abc", dtype=torch.float64, klay=False, native=False)
    module.fuse = True
    x = torch.tensor([[0.3, 0.4, 0.5]], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(module.matrix(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError):
        torch.autograd.grad(grad.sum(), x)
    module.fuse = False
    (grad,) = torch.autograd.grad(module.matrix(x).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(grad[0, 0], x)  # of 2ab + bc + c: (2b, 2a + c, b + 1)
    torch.testing.assert_close(second, torch.tensor([[0.8, 1.1, 1.4]], dtype=torch.float64))


def test_a_product_with_a_tiny_factor_keeps_a_finite_gradient():
    """prod / x for a factor near float32's smallest (1 / x would overflow to inf)."""
    a, b, c = (atom(n, (), "prob") for n in "abc")
    circuit = Circuit([apply("plus", apply("times", a, b, c), c)])
    module = lower(circuit, dynamic="abc", klay=False, native=False)
    x = torch.tensor([[1e-39, 1e-3, 0.5]])  # a is subnormal; a * b * c is about 5e-43
    (fused, dfused), (_, dref) = _fused_and_reference(module, x, torch.ones(1, 1))
    assert torch.isfinite(dfused).all()
    torch.testing.assert_close(dfused, dref, rtol=1e-2, atol=1e-45)
    torch.testing.assert_close(dfused[0, 0], torch.tensor(5e-4), rtol=1e-2, atol=0.0)
