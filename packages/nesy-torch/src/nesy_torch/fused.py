"""The whole layered pass as one autograd node, its backward written by hand layer by layer.

Recorded op by op, a pass of L layers puts several autograd nodes per layer in the graph, each
with its own bookkeeping, and saves every gathered ``(edges, B)`` tensor for the backward pass:
at small batch that bookkeeping, not the arithmetic, is the cost, and at large batch the saved
gathers are the memory. :class:`FusedPass` runs the layers without a graph and keeps only each
layer's output (its frontier); backwards, layer by layer, it gathers the layer's inputs again,
computes the gradient of each step's inputs (:func:`step_vjp`) and adds them into the previous
frontier's gradient with one ``index_add_``.

The gradients are autograd's own, by construction where a kernel has no formula here (the step
is recomputed under autograd and differentiated: user kernels, log, log1mexp, the Lukasiewicz
and noisy-or kernels) and by the same formulas elsewhere: sum spreads the gradient, prod gives
``g * prod / x`` (no factor 0; otherwise torch's own exact backward, recomputed), max and min
share it evenly between ties (as torch's ``amax`` and ``scatter_reduce``), logsumexp gives
``g * exp(x - out)`` (0 for a node whose children are all -inf).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .kernels import BUILTIN_REDUCTIONS, BUILTIN_UNARY


@dataclass(frozen=True)
class FusedStep:
    """One kernel of a layer: ``kind`` ('dense', 'scatter', 'unary' or 'carry'), its kernel
    name and forward function, the rows ``[start, start + rows)`` of the layer's gather it
    reads, its ``size`` (outputs) and ``shape`` (dense: (size, width)) or ``segments`` (scatter:
    the output of each row)."""

    kind: str
    kernel: str
    fn: Callable[..., Tensor]
    start: int
    rows: int
    size: int
    shape: tuple[int, int] | None = None
    segments: Tensor | None = None


@dataclass(frozen=True)
class FusedLayer:
    """A layer: its gather ``index`` and steps, or (``matrix`` set) one matrix product."""

    index: Tensor | None
    steps: tuple[FusedStep, ...] = ()
    matrix: Tensor | None = None


def gather(h: Tensor, index: Tensor) -> Tensor:
    """``h[index]`` (rows); at batch 1 through the flat tensor, the cheaper kernel."""
    if h.shape[1] == 1:
        return h.view(-1).index_select(0, index).unsqueeze(1)
    return h.index_select(0, index)


def scatter_add(size: int, index: Tensor, src: Tensor) -> Tensor:
    """(size, B) zeros with the rows of ``src`` added at ``index``; flat at batch 1."""
    out = src.new_zeros((size, src.shape[1]))
    if src.shape[1] == 1:
        out.view(-1).index_add_(0, index, src.view(-1))
        return out
    return out.index_add_(0, index, src)


def run_step(step: FusedStep, rows: Tensor) -> Tensor:
    """The step's outputs from its gathered ``rows`` (E, B)."""
    if step.kind == "dense":
        return step.fn(rows.view(*step.shape, rows.shape[1]))
    if step.kind == "scatter":
        return step.fn(rows, step.segments, step.size)
    return step.fn(rows)


def step_vjp(step: FusedStep, rows: Tensor, out: Tensor, grad: Tensor) -> Tensor:
    """The gradient of the step's gathered ``rows`` (E, B), given its outputs ``out`` and their
    gradient ``grad`` (size, B)."""
    kind, name = step.kind, step.kernel
    if kind == "carry":
        return grad
    if kind == "unary" and step.fn is BUILTIN_UNARY.get(name) and name in _UNARY_VJPS:
        return _UNARY_VJPS[name](out, grad)
    builtin = BUILTIN_REDUCTIONS.get(name)
    formula = _REDUCTION_VJPS.get(name)
    if builtin is not None and formula is not None and step.fn in (builtin.dense, builtin.scatter):
        if kind == "dense":
            x = rows.view(*step.shape, rows.shape[1])
            spread, count = _dense_spread, _dense_count
        else:
            x, segments, size = rows, step.segments, step.size
            spread = lambda t: gather(t, segments)  # noqa: E731
            count = lambda m: scatter_add(size, segments, m)  # noqa: E731
        found = formula(x, out, grad, spread, count)
        if found is not None:
            return found.expand_as(x).reshape(rows.shape)
    return _autograd_vjp(step, rows, grad)


Spread = Callable[[Tensor], Tensor]


def _dense_spread(t: Tensor) -> Tensor:
    return t.unsqueeze(1)


def _dense_count(mask: Tensor) -> Tensor:
    return mask.sum(dim=1)


def _sum_vjp(x: Tensor, out: Tensor, grad: Tensor, spread: Spread, count: Spread) -> Tensor:
    return spread(grad)


def _prod_vjp(x: Tensor, out: Tensor, grad: Tensor, spread: Spread, count: Spread):
    if x.dim() == 3 and x.shape[1] == 2:  # dense, two factors: each gets the other
        return x.flip(1) * spread(grad)
    low, high = torch.aminmax(x)  # cheaper than (x == 0).any(), which it decides when signed
    if not (low > 0 or high < 0) and bool((x == 0).any()):
        return None  # torch's exact exclusive product, recomputed under autograd
    return spread(grad * out) / x


def _extremum_vjp(x: Tensor, out: Tensor, grad: Tensor, spread: Spread, count: Spread):
    hit = (x == spread(out)).to(x.dtype)
    return spread(grad / count(hit)) * hit


def _logsumexp_vjp(x: Tensor, out: Tensor, grad: Tensor, spread: Spread, count: Spread):
    total = out.masked_fill(out == -math.inf, math.inf)  # all children -inf: gradient 0
    return torch.exp(x - spread(total)) * spread(grad)


_UNARY_VJPS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "identity": lambda out, grad: grad,
    "complement": lambda out, grad: -grad,
    "exp": lambda out, grad: grad * out,
}

#: The formulas above, for the built-in kernels only (a kernel a user replaced has none).
_REDUCTION_VJPS = {
    "sum": _sum_vjp,
    "prod": _prod_vjp,
    "max": _extremum_vjp,
    "min": _extremum_vjp,
    "logsumexp": _logsumexp_vjp,
}


def _autograd_vjp(step: FusedStep, rows: Tensor, grad: Tensor) -> Tensor:
    """The step recomputed under autograd and differentiated: any kernel, exactly as autograd."""
    with torch.enable_grad():
        leaf = rows.detach().requires_grad_(True)
        out = run_step(step, leaf)
        if not out.requires_grad:
            return torch.zeros_like(rows)
        (found,) = torch.autograd.grad(out, leaf, grad, allow_unused=True)
    return torch.zeros_like(rows) if found is None else found


def layer_forward(layer: FusedLayer, h: Tensor) -> Tensor:
    """The next frontier from frontier ``h`` (n, B)."""
    if layer.matrix is not None:
        return layer.matrix @ h
    gathered = gather(h, layer.index)
    outs = [run_step(s, _rows(gathered, s)) for s in layer.steps]
    return torch.cat(outs) if len(outs) > 1 else outs[0]


def layer_backward(layer: FusedLayer, h: Tensor, out: Tensor, grad: Tensor) -> Tensor:
    """The gradient of frontier ``h`` from the gradient of the layer's output ``out``."""
    if layer.matrix is not None:
        return layer.matrix.t() @ grad
    gathered = gather(h, layer.index)
    parts, start = [], 0
    for s in layer.steps:
        end = start + s.size
        parts.append(step_vjp(s, _rows(gathered, s), out[start:end], grad[start:end]))
        start = end
    local = torch.cat(parts) if len(parts) > 1 else parts[0]
    return scatter_add(len(h), layer.index, local)


def _rows(gathered: Tensor, step: FusedStep) -> Tensor:
    return gathered if step.rows == len(gathered) else gathered.narrow(0, step.start, step.rows)


class FusedPass(torch.autograd.Function):
    """``layers`` applied to the leaf frontier ``h`` (n, B), then the rows ``roots`` of the last
    frontier taken (None: all of it), as one autograd node."""

    @staticmethod
    def forward(ctx, h: Tensor, layers: Sequence[FusedLayer], roots: Tensor | None) -> Tensor:
        frontiers = [h]
        for layer in layers:
            frontiers.append(layer_forward(layer, frontiers[-1]))
        ctx.frontiers, ctx.layers, ctx.roots = frontiers, layers, roots
        last = frontiers[-1]
        return last if roots is None else gather(last, roots)

    @staticmethod
    def backward(ctx, grad: Tensor):
        frontiers, layers = ctx.frontiers, ctx.layers
        if ctx.roots is not None:
            grad = scatter_add(len(frontiers[-1]), ctx.roots, grad)
        for k in range(len(layers) - 1, -1, -1):
            grad = layer_backward(layers[k], frontiers[k], frontiers[k + 1], grad)
        return grad, None, None
