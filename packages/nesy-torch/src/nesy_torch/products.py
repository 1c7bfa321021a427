"""Products with a fast, exact gradient when factors are 0: the exclusive product.

d(prod x)/dx_i is the product of the other factors: prod/x_i when no factor is 0, the product
of the non-zero factors for the only zero factor, and 0 otherwise. torch's own backward of
``prod`` and ``scatter_reduce('prod')`` computes this too but several times slower; these
Functions compute it with a few elementwise passes. ``segment_prod`` reduces flat ``(E, B)``
children by ``segments``; ``dense_prod`` a padded ``(size, width, B)`` tensor over dim 1.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _per_node(nonzero_prod: Tensor, zeros: Tensor) -> tuple[Tensor, Tensor]:
    """(what a zero factor gets, what a non-zero factor x gets times x) per node."""
    none = torch.zeros_like(nonzero_prod)
    return torch.where(zeros == 1, nonzero_prod, none), torch.where(zeros == 0, nonzero_prod, none)


def _exclusive(zero: Tensor, safe: Tensor, for_zero: Tensor, for_nonzero: Tensor) -> Tensor:
    """The product of the other factors of each entry (per-node terms broadcast to entries)."""
    return torch.where(zero, for_zero, for_nonzero / safe)


def _segment_prod(x: Tensor, segments: Tensor, size: int) -> Tensor:
    """Into ones, including them (exact: 1 * x is x): several times faster than
    ``include_self=False``; at batch 1 through the flat tensors."""
    if x.shape[1] == 1:
        out = x.new_ones(size).scatter_reduce_(0, segments, x.reshape(-1), "prod")
        return out.unsqueeze(1)
    index = segments[:, None].expand_as(x)
    return x.new_ones((size, x.shape[1])).scatter_reduce_(0, index, x, "prod")


class _DenseProd(torch.autograd.Function):
    @staticmethod
    def forward(x: Tensor) -> Tensor:
        return x.prod(dim=1)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        zero = x == 0
        safe = x.masked_fill(zero, 1.0)
        for_zero, for_nonzero = _per_node(safe.prod(dim=1), zero.sum(dim=1))
        excl = _exclusive(zero, safe, (grad * for_zero)[:, None], (grad * for_nonzero)[:, None])
        return excl


class _SegmentProd(torch.autograd.Function):
    @staticmethod
    def forward(x: Tensor, segments: Tensor, size: int) -> Tensor:
        return _segment_prod(x, segments, size)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(inputs[0], inputs[1])
        ctx.size = inputs[2]

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, segments = ctx.saved_tensors
        zero = x == 0
        safe = x.masked_fill(zero, 1.0)
        shape = (ctx.size, x.shape[1])
        nonzero_prod = _segment_prod(safe, segments, ctx.size)
        zeros = x.new_zeros(shape).index_add_(0, segments, zero.to(x.dtype))
        for_zero, for_nonzero = _per_node(nonzero_prod, zeros)
        spread = (grad * for_zero).index_select(0, segments)
        return (
            _exclusive(zero, safe, spread, (grad * for_nonzero).index_select(0, segments)),
            None,
            None,
        )


#: Below this many entries torch's own (C++) backward wins: the Python one costs a fixed ~20 us.
SMALL = 1 << 14


def dense_prod(x: Tensor) -> Tensor:
    """The product over dim 1 of ``x`` (size, width, B)."""
    if x.shape[1] == 2:  # one multiplication: the cheapest call, its gradient exact at 0
        return torch.mul(*x.unbind(1))
    if x.requires_grad and x.numel() > SMALL:
        return _DenseProd.apply(x)
    return x.prod(dim=1)


def segment_prod(x: Tensor, segments: Tensor, size: int) -> Tensor:
    """The product of the rows of ``x`` (E, B) per segment: (size, B)."""
    if not x.requires_grad:
        return _segment_prod(x, segments, size)
    if x.numel() > SMALL:
        return _SegmentProd.apply(x, segments, size)
    index = segments[:, None].expand_as(x)
    return x.new_ones((size, x.shape[1])).scatter_reduce(0, index, x, "prod", include_self=False)
