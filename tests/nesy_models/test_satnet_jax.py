"""The JAX SATNet layer agrees with the torch one (float64) in values and gradients, also jitted."""

import numpy as np
import pytest
import torch

from nesy_models.satnet import SATNetError, satnet_solve
from nesy_models.satnet.instances import random_instance

jax = pytest.importorskip("jax")
jnp = jax.numpy


def _instance(seed, batch=3, n=6, m=8, k=4):
    """A small float64 problem: S (n+1, m), z, is_input (batch, n), init (batch, n+1, k)."""
    return random_instance(seed, batch, n, m, k, scale=0.5)


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _both(S, z, is_input, init, weights, settings):
    """Outputs and gradients of sum(out * weights) in S and z from torch and from JAX."""
    from nesy_models.satnet import satnet_solve_jax

    S_t, z_t = S.clone().requires_grad_(), z.clone().requires_grad_()
    out_t = satnet_solve(S_t, z_t, is_input, init, **settings)
    grads_t = torch.autograd.grad((out_t * weights).sum(), (S_t, z_t))
    args = [jnp.asarray(t.numpy()) for t in (S, z, is_input, init, weights)]

    def loss(S_, z_):
        out = satnet_solve_jax(S_, z_, args[2], args[3], **settings)
        return jnp.sum(out * args[4]), out

    (_, out_j), grads_j = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(*args[:2])
    torch_side = [t.detach().numpy() for t in (out_t, *grads_t)]
    return torch_side, [np.asarray(a) for a in (out_j, *grads_j)]


@pytest.mark.parametrize(
    "settings", [{"max_iter": 1000, "eps": 1e-12}, {"max_iter": 5, "eps": 1e-3}]
)
@pytest.mark.parametrize("seed", [0, 1])
def test_jax_agrees_with_torch(seed, settings):
    S, z, is_input, init = _instance(seed, 4, 7, 8, 5)
    weights = torch.randn(4, 7, generator=torch.Generator().manual_seed(seed), dtype=S.dtype)
    for torch_value, jax_value in zip(*_both(S, z, is_input, init, weights, settings), strict=True):
        np.testing.assert_allclose(jax_value, torch_value, atol=1e-10, rtol=1e-8)


def test_jit_and_grad_agree_with_eager():
    from nesy_models.satnet import satnet_solve_jax

    S, z, is_input, init = (jnp.asarray(t.numpy()) for t in _instance(2))

    def loss(S_, z_):
        return jnp.sum(satnet_solve_jax(S_, z_, is_input, init, 100, 1e-10) ** 2)

    eager = jax.grad(loss, argnums=(0, 1))(S, z)
    jitted = jax.jit(jax.grad(loss, argnums=(0, 1)))(S, z)
    for a, b in zip(eager, jitted, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_jax_bad_input_raises():
    from nesy_models.satnet import satnet_solve_jax

    S, z, is_input, init = (jnp.asarray(t.numpy()) for t in _instance(3))
    with pytest.raises(SATNetError, match="finite and in \\[0, 1\\]"):
        satnet_solve_jax(S, z.at[0, 0].set(jnp.nan), is_input, init)
    with pytest.raises(SATNetError, match="shape of z"):
        satnet_solve_jax(S, z, is_input[:, :-1], init)
