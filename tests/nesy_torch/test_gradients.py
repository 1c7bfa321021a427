"""Gradients of the torch lowering: finite differences, and finite at the carrier's ends."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from tests.backend_strategies import circuits, labels_for  # noqa: E402

from nesy_ir import Circuit, apply, atom  # noqa: E402
from nesy_ir.registry import get_algebra  # noqa: E402
from nesy_torch import lower  # noqa: E402
from nesy_torch.kernels import log1mexp  # noqa: E402

DIFFERENTIABLE = ["prob", "logprob", "real", "maxprod", "godel", "lukasiewicz", "product"]
LAYOUTS = [0.0, 1e9]  # dense_slack: scatter wherever possible, dense everywhere
#: the native pass where it applies, and the generic module in each layout
OPTIONS = [{"native": None}] + [{"native": False, "klay": False, "dense_slack": s} for s in LAYOUTS]


def _matrix(module, labels: dict, batch: int) -> torch.Tensor:
    columns = [torch.as_tensor(np.asarray(labels[k], float)) for k in module.keys]
    return torch.stack(columns, 1) if columns else torch.zeros(batch, 0, dtype=torch.float64)


@settings(max_examples=25, deadline=None)
@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("structure", DIFFERENTIABLE)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_gradients_equal_finite_differences(structure, options, data, seed):
    circuit = data.draw(circuits(structure))
    labels = labels_for(circuit, seed, batch=3)
    module = lower(circuit, dynamic=labels, dtype=torch.float64, **options)
    x = _matrix(module, labels, 3)
    free = torch.tensor(
        [not get_algebra(s).carrier.boolean for s in _structures(circuit, module.keys)]
    )
    # -inf roots have no differences; log-probabilities below -20 come from cancellations
    # (log(1 - (1 - tiny))) whose finite differences are meaningless; a NaN root (a random
    # circuit negating a log-probability above 0, outside the carrier) poisons shared gradients
    values = module.matrix(x)
    finite = (values > -20).all(0)
    if not free.any() or not finite.any() or values.isnan().any():
        return

    def fn(values):
        full = x.clone()
        full[:, free] = values
        return module.matrix(full)[:, finite]

    inputs = x[:, free].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (inputs,), eps=1e-6, atol=1e-5, rtol=1e-4)


def _structures(circuit: Circuit, keys) -> list[str]:
    from nesy_ir.traverse import atoms

    by_name = {n.arg.predicate: n.structure for n in atoms(circuit.roots)}
    return [by_name[k] for k in keys]


@pytest.mark.parametrize("options", OPTIONS, ids=str)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_prob_gradients_are_finite_at_zero_and_one(options, data, seed):
    circuit = data.draw(circuits("prob"))
    labels = labels_for(circuit, seed, batch=8, boundary=True)
    module = lower(circuit, dynamic=labels, dtype=torch.float64, **options)
    x = _matrix(module, labels, 8).requires_grad_(True)
    out = module.matrix(x).sum()
    if out.requires_grad:
        (grad,) = torch.autograd.grad(out, x, allow_unused=True)
        assert grad is None or torch.isfinite(grad).all()


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_product_gradient_at_a_zero_factor_is_exact(options):
    a, b, c = (atom(n, (), "prob") for n in "abc")
    module = lower(
        Circuit([apply("times", a, b, c)]), dynamic="abc", dtype=torch.float64, **options
    )
    x = torch.tensor([[0.0, 0.3, 0.5], [0.0, 0.0, 0.5]], dtype=torch.float64, requires_grad=True)
    module.matrix(x).sum().backward()
    expected = [[0.15, 0.0, 0.0], [0.0, 0.0, 0.0]]
    np.testing.assert_allclose(x.grad.numpy(), expected)


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_logsumexp_of_minus_infinities_has_zero_gradient(options):
    a, b = atom("a", (), "logprob"), atom("b", (), "logprob")
    module = lower(Circuit([a + b]), dynamic="ab", dtype=torch.float64, **options)
    x = torch.tensor([[-math.inf, -math.inf], [-1.0, -math.inf]], dtype=torch.float64)
    x.requires_grad_(True)
    out = module.matrix(x)
    out.sum().backward()
    assert out[0, 0] == -math.inf and out[1, 0] == -1.0
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 0.0], [1.0, 0.0]])


def test_log1mexp_is_accurate_on_both_sides_of_minus_ln2():
    x = torch.tensor([-1e-10, -0.5, -math.log(2), -0.9, -40.0, 0.0, -math.inf], dtype=torch.float64)
    x.requires_grad_(True)
    y = log1mexp(x)
    points = x[:5].tolist()
    want = [math.log(-math.expm1(v)) if v > -0.6 else math.log1p(-math.exp(v)) for v in points]
    np.testing.assert_allclose(y[:5].detach().numpy(), want, rtol=1e-12)
    assert y[5] == -math.inf and y[6] == 0.0
    y[[0, 1, 2, 3, 4, 6]].sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("width", [3, 40])
@pytest.mark.parametrize("zeros", [0, 1, 2])
def test_exclusive_product_gradients_past_the_small_size(width, zeros):
    """The custom backward (used above nesy_torch.products.SMALL entries) equals torch's."""
    from nesy_torch.products import SMALL, dense_prod, segment_prod

    batch = SMALL // width + 1
    x = torch.rand(5, width, batch, dtype=torch.float64) + 0.5
    x[1, :zeros] = 0.0
    segments = torch.arange(5).repeat_interleave(width)
    flat = x.reshape(5 * width, batch)
    for fn, arg in ((dense_prod, (x,)), (segment_prod, (flat, segments, 5))):
        leaf = arg[0].clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(leaf, *arg[1:]).sum(), leaf)
        ref = arg[0].clone().requires_grad_(True)
        (want,) = torch.autograd.grad(ref.reshape(5, width, batch).prod(1).sum(), ref)
        torch.testing.assert_close(grad, want)
