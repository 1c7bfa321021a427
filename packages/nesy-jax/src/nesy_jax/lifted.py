"""Lifted plans (:mod:`nesy_ir.lifted`) executed with JAX: ``jnp.einsum`` for sum-product steps
and, through shifted exponentials, for the pairwise steps of the log-space structures
(``logprob``, the smooth maximum: :func:`nesy_ir.lifted.log_contract`); broadcasting and a
reduction per step for the other structures. Each plan is compiled once per shapes (``jax.jit``,
the plan a static argument); usable under jit, grad, vmap."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

import jax
import jax.numpy as jnp

from nesy_ir.lifted import (
    Kernels,
    LiftedPlan,
    array_kernels,
    array_log_ops,
    check_tensors,
    run_plan,
)


def _repair(under: jax.Array, value: jax.Array, exact: Callable[[], jax.Array]) -> jax.Array:
    """The underflowed entries from the broadcast step, computed only when some entry needs it:
    a Python test where ``under`` is concrete (eager, also under grad), ``lax.cond`` under jit
    (eagerly, a ``lax.cond`` of fresh closures would be compiled at every call)."""
    try:
        needed = bool(jnp.any(under))
    except jax.errors.ConcretizationTypeError:
        return jax.lax.cond(jnp.any(under), lambda: jnp.where(under, exact(), value), lambda: value)
    return jnp.where(under, exact(), value) if needed else value


#: The log-space operations on ``jax.numpy``: shifts without gradient, repair by ``lax.cond``.
LOG_OPS = array_log_ops(jnp, detach=jax.lax.stop_gradient, repair=_repair)

#: The NumPy-like kernels on ``jax.numpy``.
JAX_KERNELS: Kernels = array_kernels(jnp, LOG_OPS)


@partial(jax.jit, static_argnums=0)
def _run(plan: LiftedPlan, tensors: dict[str, jax.Array]) -> jax.Array:
    return run_plan(plan, tensors, JAX_KERNELS)


def evaluate_plan(plan: LiftedPlan, tensors: Mapping[str, jax.Array]) -> jax.Array:
    """The value of ``plan`` on the label tensors (by predicate), shape ``(B, *free sizes)``:
    one compiled program per plan and shapes (the plan is a static argument)."""
    check_tensors(plan, tensors)
    return _run(plan, dict(tensors))
