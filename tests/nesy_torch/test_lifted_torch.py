"""nesy-torch executes lifted plans: the same values as the NumPy reference executor."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.lifted_strategies import (  # noqa: F401 (a fixture)
    SMOOTHMAXES,
    STRUCTURES,
    smoothmax_registered,
    tensors_for,
    tree_formulas,
)

from nesy_ir import Var, aggregate, apply, atom
from nesy_ir.errors import LabelError
from nesy_ir.lifted import evaluate_plan, lifted_plan

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from nesy_torch.lifted import evaluate_plan as torch_plan  # noqa: E402


@pytest.mark.parametrize("structure", STRUCTURES + SMOOTHMAXES[1:])
@given(data=st.data(), batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_torch_equals_the_numpy_executor(structure, data, batch, seed):
    formula, sizes = data.draw(tree_formulas(structure))
    plan = lifted_plan(formula, sizes)
    tensors = tensors_for(formula, sizes, batch, seed)
    want = evaluate_plan(plan, tensors)
    got = torch_plan(plan, {p: torch.as_tensor(x) for p, x in tensors.items()})
    assert tuple(got.shape) == want.shape
    if structure == "bool":
        assert np.array_equal(got.numpy(), want)
    else:
        assert got.dtype == torch.float64
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-12)


def test_torch_checks_the_shapes():
    formula = aggregate("sum", "Z", (0, 1), atom("r", (Var("X"), Var("Z")), "prob"))
    plan = lifted_plan(formula, {"X": 3})
    with pytest.raises(LabelError, match=r"label tensor of r has shape \(1, 2, 3\)"):
        torch_plan(plan, {"r": torch.ones(1, 2, 3, dtype=torch.float64)})


def test_torch_gradients_flow_to_the_tensors():
    formula = aggregate("sum", "Z", (0, 1, 2), atom("r", (Var("X"), Var("Z")), "prob"))
    r = torch.rand(2, 4, 3, dtype=torch.float64, requires_grad=True)
    torch_plan(lifted_plan(formula, {"X": 4}), {"r": r}).sum().backward()
    assert torch.equal(r.grad, torch.ones_like(r))


def _log_chain(structure: str, k: int, n: int):
    names = ["X", *(f"Z{i}" for i in range(1, k)), "Y"]
    body = apply(
        "times",
        *(
            atom(f"p{i}", (Var(a), Var(b)), structure)
            for i, (a, b) in enumerate(itertools.pairwise(names))
        ),
    )
    for v in names[1:-1]:
        body = aggregate(
            "smoothmax" if "smoothmax" in structure else "sum", v, tuple(range(n)), body
        )
    return lifted_plan(body, {"X": n, "Y": n})


@pytest.mark.parametrize("structure", ["logprob", *SMOOTHMAXES])
def test_a_row_of_minus_inf_gives_minus_inf_and_zero_gradients(structure):
    """``p0(x1, z) = -inf`` for every z: the row x1 of the chain is -inf, and the gradients are
    finite, zero for that row (not NaN from -inf - -inf or log 0)."""
    plan = _log_chain(structure, 3, 4)
    rng = np.random.default_rng(0)
    tensors = {
        p: torch.tensor(np.log(rng.uniform(0.05, 1.0, (2, 4, 4)))) for p in ("p0", "p1", "p2")
    }
    tensors["p0"][0, 1, :] = -np.inf
    tensors["p1"][1] = -np.inf  # no path at all in the second batch entry
    leaves = {p: x.clone().requires_grad_(True) for p, x in tensors.items()}
    value = torch_plan(plan, leaves)
    want = evaluate_plan(plan, {p: x.numpy() for p, x in tensors.items()})
    np.testing.assert_allclose(value.detach().numpy(), want, rtol=1e-9, atol=1e-12)
    assert torch.all(value[0, 1] == -torch.inf) and torch.all(value[1] == -torch.inf)
    assert torch.all(torch.isfinite(value[0, [0, 2, 3]]))
    value.sum().backward()  # the -inf entries of the value get gradient 1 too
    for p, x in leaves.items():
        assert torch.all(torch.isfinite(x.grad)), p
        assert torch.all(x.grad[1] == 0), p
    assert torch.all(leaves["p0"].grad[0, 1] == 0)
    assert torch.all(leaves["p0"].grad[0, [0, 2, 3]] > 0)


@pytest.mark.parametrize("structure", ["logprob", "smoothmax", "smoothmax_cool"])
def test_log_space_float64_gradients_are_the_broadcast_ones(structure):
    """The shifted exp-einsum-log step has the gradients of the plain logsumexp of the sums
    (torch's own, on the broadcast tensor (B, X, Z1, Z2, Y))."""
    plan = _log_chain(structure, 3, 4)
    t = plan.lifting.scale
    rng = np.random.default_rng(1)
    leaves = [
        torch.tensor(np.log(rng.uniform(0.05, 1.0, (2, 4, 4))), requires_grad=True)
        for _ in range(3)
    ]
    weights = torch.tensor(rng.uniform(0.5, 1.5, (2, 4, 4)))
    got = torch.autograd.grad(
        (torch_plan(plan, dict(zip(["p0", "p1", "p2"], leaves, strict=True))) * weights).sum(),
        leaves,
    )
    a, b, c = leaves
    paths = a[:, :, :, None, None] + b[:, None, :, :, None] + c[:, None, None, :, :]
    want = t * torch.logsumexp(paths / t, dim=(2, 3))
    expected = torch.autograd.grad((want * weights).sum(), leaves)
    for g, w in zip(got, expected, strict=True):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-9, atol=1e-12)


def test_float32_underflow_is_recomputed():
    """float32 at temperature 0.01: exp(-gap / tau) underflows already for gaps of 1, those
    entries come from the broadcast step; the value matches float64."""
    plan = _log_chain("smoothmax_cool", 2, 5)
    rng = np.random.default_rng(2)
    p = {f"p{i}": np.log(rng.uniform(0.05, 1.0, (2, 5, 5))) for i in range(2)}
    got = torch_plan(plan, {k: torch.tensor(x, dtype=torch.float32) for k, x in p.items()})
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), evaluate_plan(plan, p), rtol=1e-5, atol=1e-5)
    assert torch.all(torch.isfinite(got))


# --- sparse relations -------------------------------------------------------------------------


def _sparsify(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``x`` with about half of its entries zero."""
    return np.where(rng.uniform(size=x.shape) < 0.5, 0.0, x)


@pytest.mark.parametrize("structure", ["prob", "real", "maxprod", "logprob", "smoothmax"])
@given(data=st.data(), batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_sparse_relations_give_the_dense_values_and_gradients(structure, data, batch, seed):
    formula, sizes = data.draw(tree_formulas(structure))
    plan = lifted_plan(formula, sizes)
    rng = np.random.default_rng(seed)
    tensors = tensors_for(formula, sizes, batch, seed)
    if structure not in ("logprob", "smoothmax"):  # a zero log-truth is 1: leave those dense
        tensors = {p: _sparsify(x, rng) for p, x in tensors.items()}
    sparse = {p for p in sorted(tensors) if data.draw(st.booleans(), label=f"{p} sparse")}
    weights = torch.as_tensor(rng.uniform(0.5, 1.5, evaluate_plan(plan, tensors).shape))

    dense = {p: torch.tensor(x, requires_grad=True) for p, x in tensors.items()}
    want = torch_plan(plan, dense)
    (want * weights).sum().backward()

    given_ = {p: dense[p].detach().to_sparse().coalesce() for p in sparse}
    values = {p: x.values().detach().requires_grad_(True) for p, x in given_.items()}
    inputs = {
        **{p: dense[p].detach().requires_grad_(True) for p in tensors if p not in sparse},
        **{
            p: torch.sparse_coo_tensor(
                x.indices(), values[p], x.shape, is_coalesced=True, check_invariants=True
            )
            for p, x in given_.items()
        },
    }
    got = torch_plan(plan, inputs)
    assert not got.is_sparse
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-9, atol=1e-12)
    (got * weights).sum().backward()
    for p in tensors:
        full = dense[p].grad.numpy()
        if p in sparse:
            at = tuple(given_[p].indices().numpy())
            np.testing.assert_allclose(values[p].grad.numpy(), full[at], rtol=1e-9, atol=1e-12)
        else:
            np.testing.assert_allclose(inputs[p].grad.numpy(), full, rtol=1e-9, atol=1e-12)


def test_a_sparse_chain_is_the_matrix_product():
    rng = np.random.default_rng(0)
    r = _sparsify(rng.uniform(size=(2, 5, 5)), rng)
    z = tuple(range(5))
    body = atom("r", (Var("X"), Var("Z")), "prob") * atom("r", (Var("Z"), Var("Y")), "prob")
    plan = lifted_plan(aggregate("sum", "Z", z, body), {"X": 5, "Y": 5})
    got = torch_plan(plan, {"r": torch.as_tensor(r).to_sparse()})
    np.testing.assert_allclose(got.numpy(), r @ r)
