"""The torch code of every kernel named in :mod:`nesy_ir.lowering`, as data.

A reduction folds the children of each node of a block. It has a dense form over a padded
``(size, width, B)`` tensor (reducing dimension 1, padding filled with ``neutral``) and, for the
built-ins, a scatter form over the flat ``(E, B)`` children with their ``segments``. A unary
kernel maps ``(n, B) -> (n, B)``. Users add kernels with :func:`register_kernel`; a structure
whose kernels are all known lowers without editing this package.

Stability: logsumexp subtracts the maximum and gives -inf with a zero (not NaN) gradient on
all -inf segments; log1mexp switches at -ln 2; products have the exclusive-product gradient
(:mod:`nesy_torch.products`), exact when a factor is 0.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from nesy_ir.algebras import LOG_ROUNDING
from nesy_ir.errors import NesyError

from .products import dense_prod, segment_prod

Dense = Callable[[Tensor], Tensor]
Scatter = Callable[[Tensor, Tensor, int], Tensor]
Unary = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class Reduction:
    """An n-ary kernel: ``dense(x (size, width, B)) -> (size, B)``, the value that pads a node
    with fewer children, optionally ``scatter(x (E, B), segments (E,), size) -> (size, B)``
    and ``folded``: the dense form as a chain of elementwise operations over the width, which
    ``torch.compile`` turns into one loop vectorized over the batch (it vectorizes a reduction
    over dimension 1 along that dimension, a few children wide)."""

    dense: Dense
    neutral: float
    scatter: Scatter | None = None
    folded: Dense | None = None


def _fold(op: Callable[[Tensor, Tensor], Tensor]) -> Dense:
    def folded(x: Tensor) -> Tensor:
        return functools.reduce(op, x.unbind(1))

    return folded


# The initial output of scatter_reduce(include_self=False): its values are ignored forwards,
# but amax/amin backwards compare them with the result, so they must never tie (NaN).
_SCATTER_INIT = {"amax": math.nan, "amin": math.nan}


def _scatter_base(reduce: str) -> Scatter:
    init = _SCATTER_INIT[reduce]

    def run(x: Tensor, segments: Tensor, size: int) -> Tensor:
        out = x.new_full((size, x.shape[1]), init)
        index = segments[:, None].expand_as(x)
        return out.scatter_reduce(0, index, x, reduce, include_self=False)

    return run


def add_rows(out: Tensor, index: Tensor, src: Tensor) -> Tensor:
    """``out`` (n, B) with the rows of ``src`` (E, B) added at rows ``index``, in place; at
    batch 1 through the flat tensors, the cheaper kernel."""
    if src.shape[1] == 1 and not src.requires_grad:
        out.view(-1).index_add_(0, index, src.reshape(-1))
        return out
    return out.index_add_(0, index, src)


def scatter_add(size: int, index: Tensor, src: Tensor) -> Tensor:
    """(size, B) zeros with the rows of ``src`` (E, B) added at ``index``."""
    return add_rows(src.new_zeros((size, src.shape[1])), index, src)


def _scatter_sum(x: Tensor, segments: Tensor, size: int) -> Tensor:
    return scatter_add(size, segments, x)


def _finite_or_zero(m: Tensor) -> Tensor:
    return torch.where(torch.isfinite(m), m, torch.zeros_like(m))


def _log_of_sum(total: Tensor, shift: Tensor) -> Tensor:
    """shift + log(total), -inf where total is 0, with a zero gradient there (NaN stays NaN)."""
    zero = total == 0
    safe = torch.where(zero, torch.ones_like(total), total)
    return torch.where(zero, torch.full_like(total, -math.inf), shift + torch.log(safe))


def _dense_logsumexp(x: Tensor) -> Tensor:
    shift = _finite_or_zero(x.detach().amax(dim=1))
    return _log_of_sum(torch.exp(x - shift[:, None]).sum(dim=1), shift)


def _scatter_logsumexp(x: Tensor, segments: Tensor, size: int) -> Tensor:
    shift = _finite_or_zero(_scatter_base("amax")(x.detach(), segments, size))
    total = _scatter_sum(torch.exp(x - shift[segments]), segments, size)
    return _log_of_sum(total, shift)


def _derived(pre: Unary, base: Reduction, post: Unary, neutral: float) -> Reduction:
    """post(base(pre(x))): the Lukasiewicz and noisy-or kernels from sum and prod."""
    scatter = base.scatter
    return Reduction(
        dense=lambda x: post(base.dense(pre(x))),
        neutral=neutral,
        scatter=None if scatter is None else lambda x, s, n: post(scatter(pre(x), s, n)),
    )


def _one_minus(x: Tensor) -> Tensor:
    return 1.0 - x


SUM = Reduction(lambda x: x.sum(dim=1), 0.0, _scatter_sum, _fold(torch.add))
PROD = Reduction(dense_prod, 1.0, segment_prod, _fold(torch.mul))

REDUCTIONS: dict[str, Reduction] = {
    "sum": SUM,
    "prod": PROD,
    "max": Reduction(lambda x: x.amax(dim=1), -math.inf, _scatter_base("amax")),
    "min": Reduction(lambda x: x.amin(dim=1), math.inf, _scatter_base("amin")),
    "logsumexp": Reduction(_dense_logsumexp, -math.inf, _scatter_logsumexp),
    "bounded_sum": _derived(lambda x: x, SUM, lambda s: s.clamp(max=1.0), 0.0),
    "luk_and": _derived(_one_minus, SUM, lambda s: (1.0 - s).clamp(min=0.0), 1.0),
    "noisy_or": _derived(_one_minus, PROD, _one_minus, 0.0),
}


class _Log(torch.autograd.Function):
    """log x whose gradient is 0 (not 0 * inf = NaN) where the incoming gradient is 0: a -inf
    that does not reach the output (e.g. a -inf term of a logsumexp) leaves no NaN behind."""

    @staticmethod
    def forward(x: Tensor) -> Tensor:
        return torch.log(x)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return torch.where(grad == 0, torch.zeros_like(grad), grad / x)


def safe_log(x: Tensor) -> Tensor:
    """Natural logarithm, with a zero gradient where the result does not matter (see _Log)."""
    return _Log.apply(x)


_LN_HALF = -math.log(2.0)


def log1mexp(x: Tensor) -> Tensor:
    """log(1 - exp(x)) for x <= 0, accurate (and with finite gradients) on both sides of -ln 2.

    x > 0 by at most ``LOG_ROUNDING`` (rounding, e.g. log(p + (1 - p))) counts as 0: -inf;
    further above 0 it is no log-probability: NaN, as the reference.
    """
    near = safe_log(-torch.expm1(x.clamp(min=_LN_HALF, max=0.0)))
    far = torch.log1p(-torch.exp(x.clamp(max=_LN_HALF)))
    out = torch.where(x > _LN_HALF, near, far)
    return torch.where(x > LOG_ROUNDING, torch.full_like(out, math.nan), out)


UNARY: dict[str, Unary] = {
    "complement": _one_minus,
    "log1mexp": log1mexp,
    "identity": lambda x: x,
    "log": safe_log,
    "exp": torch.exp,
}


#: The kernels above as shipped (those :func:`register_kernel` may replace in the tables).
BUILTIN_REDUCTIONS, BUILTIN_UNARY = dict(REDUCTIONS), dict(UNARY)


def register_kernel(name: str, fn: Callable, neutral: float | None = None) -> None:
    """Add (or replace) a kernel: unary ``fn(x (n, B))`` when ``neutral`` is None, else an n-ary
    reduction ``fn(x (size, width, B)) -> (size, B)`` over dimension 1 padded with ``neutral``."""
    if neutral is None:
        UNARY[name] = fn
    else:
        REDUCTIONS[name] = Reduction(fn, float(neutral))


def reduction(name: str, where: str) -> Reduction:
    """The reduction called ``name``; a NesyError naming ``where`` it is needed if unknown."""
    if name not in REDUCTIONS:
        raise NesyError(
            f"{where}: nesy-torch has no reduction kernel {name!r}: add one with"
            " nesy_torch.register_kernel(name, fn, neutral)"
        )
    return REDUCTIONS[name]


def unary(name: str, where: str) -> Unary:
    """The unary kernel called ``name``; a NesyError naming ``where`` it is needed if unknown."""
    if name not in UNARY:
        raise NesyError(
            f"{where}: nesy-torch has no unary kernel {name!r}: add one with"
            " nesy_torch.register_kernel(name, fn)"
        )
    return UNARY[name]
