"""The JAX code of every kernel nesy-ir names (:mod:`nesy_ir.lowering`), as a table.

A reduction folds the children of each node of a block. It has a ``dense`` form, which reduces
axis 1 of a padded (size, width, B) array whose padded places hold ``neutral``, and optionally a
``segment`` form over the flat (E, B) children with sorted segment ids; the lowering picks one per
block (dense unless padding would cost much more than the segment scatter). Products only have
the dense form: ``jax.ops.segment_prod`` has no gradient, and ``jnp.prod``'s is exact at zeros.

Unary kernels map (n, B) to (n, B). Log-space kernels are written so that neither their values
nor their gradients turn into NaN at the ends of the carrier (-inf, 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from nesy_ir.algebras import LOG_ROUNDING
from nesy_ir.errors import NesyError

Array = jax.Array


@dataclass(frozen=True)
class Reduction:
    """An n-ary kernel: its neutral element, dense form and optional segment form."""

    neutral: float
    dense: Callable[[Array], Array]
    segment: Callable[[Array, Array, int], Array] | None = None


def _segment_sum(v: Array, ids: Array, n: int) -> Array:
    return jax.ops.segment_sum(v, ids, n, indices_are_sorted=True)


def _segment_max(v: Array, ids: Array, n: int) -> Array:
    return jax.ops.segment_max(v, ids, n, indices_are_sorted=True)


def _segment_min(v: Array, ids: Array, n: int) -> Array:
    return jax.ops.segment_min(v, ids, n, indices_are_sorted=True)


def _finite_or_zero(m: Array) -> Array:
    """The shift of a stable logsumexp: the max, or 0 where it is -inf (no gradient through it)."""
    return jax.lax.stop_gradient(jnp.where(jnp.isfinite(m), m, 0.0))


def _safe_log_total(total: Array, shift: Array) -> Array:
    """shift + log(total), -inf where total is 0, with a zero (not NaN) gradient there; a NaN
    (a summand that is no log-probability) stays NaN, as in the reference."""
    zero = total == 0
    return jnp.where(zero, -jnp.inf, shift + jnp.log(jnp.where(zero, 1.0, total)))


def _logsumexp_dense(v: Array) -> Array:
    shift = _finite_or_zero(jnp.max(v, axis=1))
    return _safe_log_total(jnp.sum(jnp.exp(v - shift[:, None]), axis=1), shift)


def _logsumexp_segment(v: Array, ids: Array, n: int) -> Array:
    shift = _finite_or_zero(_segment_max(v, ids, n))
    return _safe_log_total(_segment_sum(jnp.exp(v - shift[ids]), ids, n), shift)


@jax.custom_vjp
def _log(x: Array) -> Array:
    """Natural logarithm whose gradient is 0 (not 0 / 0 = NaN) where the incoming gradient is
    0: a log 0 that does not reach the output (a -inf term of a logsumexp) leaves no NaN."""
    return jnp.log(x)


def _log_forward(x: Array) -> tuple[Array, Array]:
    return jnp.log(x), x


def _log_backward(x: Array, g: Array) -> tuple[Array]:
    return (jnp.where(g == 0, jnp.zeros_like(g), g / x),)


_log.defvjp(_log_forward, _log_backward)


def _log1mexp(x: Array) -> Array:
    """log(1 - exp(x)) for x <= 0: expm1 near 0, log1p below -log 2; NaN-free gradients.

    x above 0 by at most ``LOG_ROUNDING`` (a log-probability rounded up, e.g. by a logsumexp of
    complements) counts as 0; further above 0 it is no log-probability: NaN, as the reference.
    """
    invalid = x > LOG_ROUNDING
    x = jnp.minimum(x, 0.0)
    near = x > -jnp.log(2.0)
    x_near = jnp.where(near, x, -1.0)  # each branch sees only inputs where it is finite
    x_far = jnp.where(near, -1.0, x)
    out = jnp.where(near, _log(-jnp.expm1(x_near)), jnp.log1p(-jnp.exp(x_far)))
    return jnp.where(invalid, jnp.nan, out)


REDUCTIONS: dict[str, Reduction] = {
    "sum": Reduction(0.0, lambda v: jnp.sum(v, axis=1), _segment_sum),
    "prod": Reduction(1.0, lambda v: jnp.prod(v, axis=1)),
    "max": Reduction(-jnp.inf, lambda v: jnp.max(v, axis=1), _segment_max),
    "min": Reduction(jnp.inf, lambda v: jnp.min(v, axis=1), _segment_min),
    "logsumexp": Reduction(-jnp.inf, _logsumexp_dense, _logsumexp_segment),
    "bounded_sum": Reduction(
        0.0,
        lambda v: jnp.minimum(1.0, jnp.sum(v, axis=1)),
        lambda v, ids, n: jnp.minimum(1.0, _segment_sum(v, ids, n)),
    ),
    "luk_and": Reduction(
        1.0,
        lambda v: jnp.maximum(0.0, 1.0 - jnp.sum(1.0 - v, axis=1)),
        lambda v, ids, n: jnp.maximum(0.0, 1.0 - _segment_sum(1.0 - v, ids, n)),
    ),
    "noisy_or": Reduction(0.0, lambda v: 1.0 - jnp.prod(1.0 - v, axis=1)),
}

UNARY: dict[str, Callable[[Array], Array]] = {
    "complement": lambda x: 1.0 - x,
    "log1mexp": _log1mexp,
    "identity": lambda x: x,
    "log": _log,
    "exp": jnp.exp,
}


def register_kernel(name: str, kernel: Reduction | Callable[[Array], Array]) -> None:
    """Give nesy-jax the code of kernel ``name``: a :class:`Reduction` or a unary function.

    Replaces a built-in of the same name. nesy-ir's kernel tables say which operation uses it.
    """
    if isinstance(kernel, Reduction):
        UNARY.pop(name, None)
        REDUCTIONS[name] = kernel
    elif callable(kernel):
        REDUCTIONS.pop(name, None)
        UNARY[name] = kernel
    else:
        raise NesyError(f"kernel {name!r}: expected a Reduction or a function, got {kernel!r}")


def reduction(name: str, where: str) -> Reduction:
    """The reduction kernel ``name`` (used by ``where``), or a NesyError saying how to add it."""
    found = REDUCTIONS.get(name)
    if found is None:
        raise NesyError(
            f"{where}: nesy-jax has no reduction kernel {name!r}: add one with"
            " nesy_jax.register_kernel(name, Reduction(...))"
        )
    return found


def unary(name: str, where: str) -> Callable[[Array], Array]:
    """The unary kernel ``name`` (used by ``where``), or a NesyError saying how to add it."""
    found = UNARY.get(name)
    if found is None:
        raise NesyError(
            f"{where}: nesy-jax has no unary kernel {name!r}: add one with"
            " nesy_jax.register_kernel(name, function)"
        )
    return found
