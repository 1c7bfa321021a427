"""SATNet in JAX: the mixing-method solve with an implicit backward through ``jax.custom_vjp``.

The same algorithm as :mod:`nesy_models.satnet.torch_mixing` (see there for the equations),
written with ``lax.while_loop`` over sweeps and ``lax.fori_loop`` over the variables, so it jits
and runs on any JAX device. Given the same clause matrix, probabilities, mask and random initial
vectors it agrees with the torch layer (to rounding, in float64: enable x64 for that). Checks
of the inputs and of the result (a zero gradient norm gives non-finite values) run when the
values are concrete, i.e. outside ``jit``.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from nesy_models.satnet.checks import check_given_values, check_shapes
from nesy_models.satnet.errors import SATNetError


def _unit(x: jax.Array) -> jax.Array:
    norm = jnp.linalg.norm(x, axis=-1, keepdims=True)
    return x / jnp.maximum(norm, jnp.finfo(x.dtype).tiny)


def _relax_inputs(z_full, given, init):
    v0 = _unit(init[:, :1])
    w = _unit(init - jnp.sum(init * v0, -1, keepdims=True) * v0)
    angle = math.pi * z_full[..., None]
    vectors = jnp.where(given[..., None], -jnp.cos(angle) * v0 + jnp.sin(angle) * w, _unit(init))
    return vectors.at[:, 0].set(v0[:, 0]), w


def _outputs(vectors):
    v0 = vectors[:, :1]
    cos = jnp.sum(vectors * v0, -1)
    sin = jnp.linalg.norm(vectors - cos[..., None] * v0, axis=-1)
    return jnp.arctan2(sin, -cos) / math.pi


def _sweeps(step, start, free, max_iter, stop):
    """Sweep ``step`` over variables 1..N-1 until ``stop(new, old)`` holds per element."""
    batch, num_vars = free.shape

    def sweep(state):
        count, values, carry, active = state
        update = free & active[:, None]
        values, carry = lax.fori_loop(
            1, num_vars, lambda i, vc: step(i, update[:, i, None], *vc), (values, carry)
        )
        return count + 1, values, carry, active & ~stop(values, state[1])

    def more(state):
        return (state[0] < max_iter) & jnp.any(state[3])

    init = (jnp.int32(0), *start, jnp.ones(batch, bool))
    return lax.while_loop(more, sweep, init)[1]


def _mix_forward(S, vectors, free, max_iter, eps):
    snorm = jnp.sum(S * S, 1)

    def step(i, update, values, omega):
        v, s = values[:, i], S[i]
        g = omega @ s - snorm[i] * v
        norm = jnp.linalg.norm(g, axis=1, keepdims=True)
        v_new = jnp.where(update & (norm > 0), -g / jnp.where(norm > 0, norm, 1.0), v)
        return values.at[:, i].set(v_new), omega + (v_new - v)[..., None] * s

    def stop(new, old):
        return jnp.linalg.norm((new - old).reshape(new.shape[0], -1), axis=1) < eps

    omega = jnp.einsum("bnk,nm->bkm", vectors, S)
    return _sweeps(step, (vectors, omega), free, max_iter, stop)


def _mix_adjoint(S, vectors, free, xi, norms, max_iter, eps):
    snorm = jnp.sum(S * S, 1)

    def step(i, update, values, psi):
        u, v, s = values[:, i], vectors[:, i], S[i]
        dg = psi @ s - snorm[i] * u - xi[:, i]
        dg = dg - jnp.sum(dg * v, 1, keepdims=True) * v
        u_new = jnp.where(update, -dg / norms[:, i, None], u)
        return values.at[:, i].set(u_new), psi + (u_new - u)[..., None] * s

    def stop(new, old):
        flat = new.reshape(new.shape[0], -1)
        return jnp.linalg.norm(flat - old.reshape(flat.shape), axis=1) <= eps * jnp.linalg.norm(
            flat, axis=1
        )

    psi = jnp.zeros((vectors.shape[0], vectors.shape[2], S.shape[1]), S.dtype)
    return _sweeps(step, (jnp.zeros_like(vectors), psi), free, max_iter, stop)


def _prepare(z, is_input):
    given = jnp.concatenate([jnp.ones_like(is_input[:, :1]), is_input], 1)
    z_full = jnp.where(given, jnp.concatenate([jnp.ones_like(z[:, :1]), z], 1), 0.0)
    return z_full, given


@partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def _solve(S, z, is_input, init, max_iter, eps):
    return _solve_fwd(S, z, is_input, init, max_iter, eps)[0]


def _solve_fwd(S, z, is_input, init, max_iter, eps):
    z_full, given = _prepare(z, is_input)
    start, directions = _relax_inputs(z_full, given, init)
    vectors = _mix_forward(S, start, ~given, max_iter, eps)
    omega = jnp.einsum("bnk,nm->bkm", vectors, S)
    g = jnp.einsum("bkm,nm->bnk", omega, S) - jnp.sum(S * S, 1)[:, None] * vectors
    norms = jnp.linalg.norm(g, axis=-1)
    out = jnp.where(given, z_full, _outputs(vectors))[:, 1:]
    return out, (S, vectors, directions, z_full, given, norms)


def _solve_bwd(max_iter, eps, residuals, grad_out):
    S, vectors, directions, z_full, given, norms = residuals
    free = ~given
    grad = jnp.concatenate([jnp.zeros_like(grad_out[:, :1]), grad_out], 1)
    v0 = vectors[:, :1]
    towards = v0 - jnp.sum(vectors * v0, -1, keepdims=True) * vectors
    sin = jnp.linalg.norm(towards, axis=-1)
    scale = jnp.where(free, grad, 0.0) / (math.pi * jnp.maximum(sin, jnp.finfo(sin.dtype).eps))
    xi = scale[..., None] * towards
    adjoint = _mix_adjoint(S, vectors, free, xi, norms, max_iter, eps)
    omega = jnp.einsum("bnk,nm->bkm", vectors, S)
    psi = jnp.einsum("bnk,nm->bkm", adjoint, S)
    grad_s = -(jnp.einsum("bnk,bkm->nm", adjoint, omega) + jnp.einsum("bnk,bkm->nm", vectors, psi))
    grad_v = -jnp.einsum("bkm,nm->bnk", psi, S)
    angle = math.pi * z_full[..., None]
    dv_dz = math.pi * (jnp.sin(angle) * v0 + jnp.cos(angle) * directions)
    grad_z = jnp.where(given, grad + jnp.sum(grad_v * dv_dz, -1), 0.0)[:, 1:]
    return grad_s, grad_z, None, None


_solve.defvjp(_solve_fwd, _solve_bwd)
_solve_jit = jax.jit(_solve, static_argnums=(4, 5))


def _concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def satnet_solve_jax(
    S: jax.Array,
    z: jax.Array,
    is_input: jax.Array,
    init: jax.Array,
    max_iter: int = 40,
    eps: float = 1e-4,
) -> jax.Array:
    """Fill in the variables that are not given, differentiably in ``S`` and ``z`` (JAX).

    Arguments as :func:`nesy_models.satnet.satnet_solve`: ``S`` (N, m) with row 0 the truth
    direction, ``z`` and ``is_input`` (B, N-1), ``init`` (B, N, k) random vectors.
    """
    check_shapes(tuple(z.shape), tuple(is_input.shape), S.shape[0] - 1, "satnet_solve_jax")
    if init.ndim != 3 or init.shape[:2] != (z.shape[0], S.shape[0]):
        raise SATNetError(
            f"satnet_solve_jax: init must have shape (batch, {S.shape[0]}, k), got {init.shape}"
        )
    is_input = jnp.asarray(is_input).astype(bool)
    if _concrete(z) and _concrete(is_input):
        check_given_values(np.asarray(z), np.asarray(is_input), "satnet_solve_jax")
    out = _solve_jit(
        S, jnp.asarray(z, S.dtype), is_input, jnp.asarray(init, S.dtype), max_iter, eps
    )
    if _concrete(out) and not bool(jnp.all(jnp.isfinite(out))):
        raise SATNetError(
            "satnet_solve_jax: non-finite output; check that S and the given probabilities "
            "are finite"
        )
    return out
