"""nesy-jax executes lifted plans: the same values as the NumPy reference executor, and the same
gradients with respect to the label tensors as nesy-torch (float64)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.lifted_strategies import (  # noqa: F401 (a fixture)
    STRUCTURES,
    smoothmax_registered,
    tensors_for,
    tree_formulas,
)

from nesy_ir.lifted import evaluate_plan, lifted_plan

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from nesy_jax.lifted import evaluate_plan as jax_plan  # noqa: E402

DIFFERENTIABLE = [s for s in STRUCTURES if s != "bool"]


@pytest.mark.parametrize("structure", STRUCTURES)
@settings(max_examples=4)  # eager JAX compiles each new shape: slow
@given(data=st.data(), batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_jax_equals_the_numpy_executor(structure, data, batch, seed):
    formula, sizes = data.draw(tree_formulas(structure))
    plan = lifted_plan(formula, sizes)
    tensors = tensors_for(formula, sizes, batch, seed)
    want = evaluate_plan(plan, tensors)
    with jax.enable_x64(True):
        got = np.asarray(jax_plan(plan, {p: jnp.asarray(x) for p, x in tensors.items()}))
    assert got.shape == want.shape
    if structure == "bool":
        assert np.array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("structure", DIFFERENTIABLE)
@settings(max_examples=4)
@given(data=st.data(), batch=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_gradients_agree_with_torch(structure, data, batch, seed):
    """The gradient of sum(w * value) with respect to every label tensor, w random."""
    torch = pytest.importorskip("torch")
    from nesy_torch.lifted import evaluate_plan as torch_plan

    formula, sizes = data.draw(tree_formulas(structure))
    plan = lifted_plan(formula, sizes)
    tensors = tensors_for(formula, sizes, batch, seed)
    names = sorted(tensors)
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, evaluate_plan(plan, tensors).shape)

    leaves = {p: torch.tensor(tensors[p], requires_grad=True) for p in names}
    (torch_plan(plan, leaves) * torch.as_tensor(weights)).sum().backward()
    want = [leaves[p].grad.numpy() for p in names]

    with jax.enable_x64(True):

        def loss(*xs):
            value = jax_plan(plan, dict(zip(names, xs, strict=True)))
            return jnp.sum(value * jnp.asarray(weights))

        grads = jax.grad(loss, argnums=tuple(range(len(names))))(
            *(jnp.asarray(tensors[p]) for p in names)
        )
        got = [np.asarray(g) for g in grads]
    for p, g, w in zip(names, got, want, strict=True):
        assert np.all(np.isfinite(g)), p
        np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-10, err_msg=p)


@pytest.mark.parametrize("structure", ["smoothmax", "smoothmax_cool"])  # logprob: torch's tests
def test_a_row_of_minus_inf_gives_minus_inf_and_zero_gradients(structure):
    """A chain ``p0 * p1 * p2`` with ``p0(x1, z) = -inf`` for every z, and no path at all in the
    second batch entry: -inf there, under jit too, and finite gradients, zero for those rows,
    equal to torch's."""
    torch = pytest.importorskip("torch")
    from nesy_ir import Var, aggregate, apply, atom
    from nesy_torch.lifted import evaluate_plan as torch_plan

    names = ["X", "Z1", "Z2", "Y"]
    body = apply(
        "times",
        *(
            atom(f"p{i}", (Var(a), Var(b)), structure)
            for i, (a, b) in enumerate(itertools.pairwise(names))
        ),
    )
    agg = "sum" if structure == "logprob" else "smoothmax"
    formula = aggregate(agg, "Z1", tuple(range(4)), aggregate(agg, "Z2", tuple(range(4)), body))
    plan = lifted_plan(formula, {"X": 4, "Y": 4})
    rng = np.random.default_rng(0)
    tensors = {f"p{i}": np.log(rng.uniform(0.05, 1.0, (2, 4, 4))) for i in range(3)}
    tensors["p0"][0, 1, :] = -np.inf
    tensors["p1"][1] = -np.inf
    names = sorted(tensors)
    want = evaluate_plan(plan, tensors)
    assert np.all(want[0, 1] == -np.inf) and np.all(want[1] == -np.inf)

    leaves = {p: torch.tensor(tensors[p], requires_grad=True) for p in names}
    torch_plan(plan, leaves).sum().backward()

    with jax.enable_x64(True):

        def loss(*xs):
            return jnp.sum(jax_plan(plan, dict(zip(names, xs, strict=True))))

        xs = tuple(jnp.asarray(tensors[p]) for p in names)
        value = jax.jit(lambda *xs: jax_plan(plan, dict(zip(names, xs, strict=True))))(*xs)
        grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(*xs)
    np.testing.assert_allclose(np.asarray(value), want, rtol=1e-9, atol=1e-12)
    for p, g in zip(names, grads, strict=True):
        g = np.asarray(g)
        assert np.all(np.isfinite(g)), p
        assert np.all(g[1] == 0), p
        np.testing.assert_allclose(g, leaves[p].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=p)
    assert np.all(np.asarray(grads[0])[0, 1] == 0)
