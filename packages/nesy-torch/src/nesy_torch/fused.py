"""The whole layered pass as one autograd node, its backward written by hand layer by layer.

Recorded op by op, a pass of L layers puts several autograd nodes per layer in the graph, each
with its own bookkeeping, and saves every gathered ``(edges, B)`` tensor for the backward pass:
at small batch that bookkeeping, not the arithmetic, is the cost, and at large batch the saved
gathers are the memory. :class:`FusedPass` runs the layers without a graph and keeps each
layer's output (its frontier) and, up to :data:`KEEP_GATHERED` values, the gathered inputs its
backward reads; backwards, layer by layer, it gathers the layer's inputs again where it did not
keep them, scales the outputs' gradients by each step's rule, spreads them to the children with
one gather, multiplies per child where the rule says so, and adds them into the previous
frontier's gradient with one ``index_add_`` (:func:`layer_backward`): a few kernels per layer
whatever its number of steps. On the CPU, a batch too wide for the caches runs in tiles of
columns, each through every layer (:func:`tiles`).

The gradients are autograd's own, by construction where a kernel has no formula here (the step
is recomputed under autograd and differentiated: user kernels, log, log1mexp, the Lukasiewicz
and noisy-or kernels) and by the same formulas elsewhere: sum spreads the gradient, prod gives
``g * (prod / x)`` (no factor 0; otherwise torch's own exact backward, recomputed; a product of
two gives each factor ``g`` times the other, exact at 0), max and min share it evenly between
ties (as torch's ``amax`` and ``scatter_reduce``), logsumexp gives ``g * exp(x - out)`` (0 for
a node whose children are all -inf).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .kernels import BUILTIN_REDUCTIONS, BUILTIN_UNARY, add_rows, scatter_add

if TYPE_CHECKING:
    from .compiled import CompiledPass

#: How a step's gradient is computed: ``rule(x, out, coef, step)`` may scale the per-node
#: gradients ``coef`` (size, B) in place, before they are spread to the children, and returns
#: the per-child factor applied after (None: 1), in the step's shape; it returns ``_AUTOGRAD``
#: where the formula does not hold (autograd then differentiates the step).
Rule = Callable[[Tensor, Tensor, Tensor, "FusedStep"], Any]


@dataclass(frozen=True)
class FusedStep:
    """One kernel of a layer: ``kind`` ('dense', 'scatter', 'unary', 'carry' or 'padded': a
    reduction over nodes of unequal widths with no scatter form, ``fn`` padding and reducing
    the flat rows), its kernel name and forward function, the rows ``[start, start + rows)``
    of the layer's gather it reads, its ``size`` (outputs) and ``shape`` (dense: (size,
    width)) or ``segments`` (scatter: the output of each row)."""

    kind: str
    kernel: str
    fn: Callable[..., Tensor]
    start: int
    rows: int
    size: int
    shape: tuple[int, int] | None = None
    segments: Tensor | None = None
    rule: Rule | None = field(init=False)  # how its gradient is computed (None: autograd)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule", _rule(self))


@dataclass(frozen=True)
class FusedLayer:
    """A layer: its gather ``index``, the output each gathered row goes to (``parent``) and its
    steps, or (``matrix`` set) one matrix product."""

    index: Tensor | None
    parent: Tensor | None = None
    steps: tuple[FusedStep, ...] = ()
    matrix: Tensor | None = None
    reads_inputs: bool = field(init=False)  # whether its backward needs the gathered inputs
    scales: bool = field(init=False)  # whether a rule scales the outputs' gradients in place
    dense: bool = field(init=False)  # whether it is one dense step (its children in blocks)
    width: int = field(init=False)  # the rows it gathers (a matrix: its rows and columns)

    def __post_init__(self) -> None:
        rules = [s.rule for s in self.steps]
        reads = any(r not in (_no_change, _negate, _times_out) for r in rules)
        object.__setattr__(self, "reads_inputs", reads)
        object.__setattr__(self, "scales", any(r in _SCALING for r in rules))
        object.__setattr__(self, "dense", len(rules) == 1 and self.steps[0].kind == "dense")
        width = sum(self.matrix.shape) if self.matrix is not None else len(self.index)
        object.__setattr__(self, "width", width)


def gather(h: Tensor, index: Tensor) -> Tensor:
    """``h[index]`` (rows); at batch 1 through the flat tensor, the cheaper kernel."""
    if h.shape[1] == 1:
        return h.reshape(-1).index_select(0, index).unsqueeze(1)
    return h.index_select(0, index)


def run_step(step: FusedStep, rows: Tensor) -> Tensor:
    """The step's outputs from its gathered ``rows`` (E, B)."""
    if step.kind == "dense":
        return step.fn(rows.view(*step.shape, rows.shape[1]))
    if step.kind == "scatter":
        return step.fn(rows, step.segments, step.size)
    return step.fn(rows)


_AUTOGRAD = object()


def _spread(step: FusedStep, t: Tensor) -> Tensor:
    """Per-node values (size, B) to per-child values, in the step's shape."""
    return t.unsqueeze(1) if step.kind == "dense" else gather(t, step.segments)


def _count(step: FusedStep, m: Tensor) -> Tensor:
    """Per-child values, in the step's shape, summed per node."""
    return m.sum(dim=1) if step.kind == "dense" else scatter_add(step.size, step.segments, m)


def _no_change(x: Tensor, out: Tensor, coef: Tensor, step: FusedStep) -> None:
    return None


def _negate(x: Tensor, out: Tensor, coef: Tensor, step: FusedStep) -> None:
    coef.neg_()


def _times_out(x: Tensor, out: Tensor, coef: Tensor, step: FusedStep) -> None:
    coef.mul_(out)


@dataclass(frozen=True)
class _Other:
    """The per-child factor of products of two (``x`` (size, 2, B), their factors): each child
    gets the other, read by two strided multiplications instead of a flipped copy of ``x``."""

    x: Tensor

    def scale(self, rows: Tensor) -> None:
        """``rows`` (size, 2, B) times the factor, in place."""
        rows[:, 0].mul_(self.x[:, 1])
        rows[:, 1].mul_(self.x[:, 0])


def _pairs(step: FusedStep) -> bool:
    """Whether the step multiplies two factors per node (dense): each gets the other, exact
    at 0."""
    return step.kind == "dense" and step.shape[1] == 2


def _prod(x: Tensor, out: Tensor, coef: Tensor, step: FusedStep):
    if not _pairs(step):
        low, high = torch.aminmax(out)  # a zero factor (or an underflow) gives a zero product
        if not (low.item() > 0 or high.item() < 0) and bool((out == 0).any()):
            return _AUTOGRAD  # torch's exact exclusive product
    return _divided(x, out, coef, step)


def _divided(x: Tensor, out: Tensor, coef: Tensor, step: FusedStep):
    """A product's per-child factor where no product of the step is 0 (``_prod`` without its
    check, for a pass that knows this: :func:`zero_products`)."""
    if _pairs(step):
        return _Other(x)
    # prod / x, divided (1 / x overflows for a tiny x, and inf times an underflowed 0 is NaN)
    return _spread(step, out) / x


def _extremum(x: Tensor, out: Tensor, coef: Tensor, step: FusedStep) -> Tensor:
    hit = (x == _spread(step, out)).to(x.dtype)
    coef.div_(_count(step, hit))
    return hit


def _logsumexp(x: Tensor, out: Tensor, coef: Tensor, step: FusedStep) -> Tensor:
    total = out.masked_fill(out == -math.inf, math.inf)  # all children -inf: gradient 0
    return torch.exp(x - _spread(step, total))


#: The rules that scale the per-node gradients in place (the others leave them as they are).
_SCALING = (_negate, _times_out, _extremum)

_UNARY_RULES: dict[str, Rule] = {"identity": _no_change, "complement": _negate, "exp": _times_out}

#: The rules above hold for the built-in kernels only (a kernel a user replaced has none).
_REDUCTION_RULES: dict[str, Rule] = {
    "sum": _no_change,
    "prod": _prod,
    "max": _extremum,
    "min": _extremum,
    "logsumexp": _logsumexp,
}


def _rule(step: FusedStep) -> Rule | None:
    if step.kind == "carry":
        return _no_change
    if step.kind == "unary":
        return _UNARY_RULES.get(step.kernel) if step.fn is BUILTIN_UNARY.get(step.kernel) else None
    builtin = BUILTIN_REDUCTIONS.get(step.kernel)
    if builtin is None or step.fn not in (builtin.dense, builtin.scatter, builtin.folded):
        return None
    return _REDUCTION_RULES.get(step.kernel)


def _autograd_vjp(step: FusedStep, rows: Tensor, grad: Tensor) -> Tensor:
    """The step recomputed under autograd and differentiated: any kernel, exactly as autograd
    (in the step's shape)."""
    with torch.enable_grad():
        leaf = rows.detach().requires_grad_(True)
        out = run_step(step, leaf)
        if not out.requires_grad:
            return _in_shape(step, torch.zeros_like(rows))
        (found,) = torch.autograd.grad(out, leaf, grad, allow_unused=True)
    return _in_shape(step, torch.zeros_like(rows) if found is None else found)


def layer_forward(layer: FusedLayer, h: Tensor) -> Tensor:
    """The next frontier from frontier ``h`` (n, B)."""
    if layer.matrix is not None:
        return layer.matrix @ h
    return layer_outputs(layer, gather(h, layer.index))


def run_layers(layers: Sequence[FusedLayer], roots: Tensor | None, h: Tensor) -> Tensor:
    """The rows ``roots`` (None: all) of the last frontier from ``h``, op by op."""
    for layer in layers:
        h = layer_forward(layer, h)
    return h if roots is None else h.index_select(0, roots)


def layer_outputs(layer: FusedLayer, gathered: Tensor) -> Tensor:
    """The next frontier from the layer's gathered inputs."""
    outs = [run_step(s, _rows(gathered, s)) for s in layer.steps]
    return torch.cat(outs) if len(outs) > 1 else outs[0]


def layer_backward(
    layer: FusedLayer,
    h: Tensor,
    out: Tensor,
    grad: Tensor,
    into: Tensor | None = None,
    gathered: Tensor | None = None,
    nonzero: bool = False,
) -> Tensor:
    """The gradient of frontier ``h`` from the gradient of the layer's output ``out``: per-node
    coefficients scaled step by step, spread to the children with one gather (a repeat for one
    dense step), times per-child factors, added into ``h``'s rows with one ``index_add_``
    (into ``into``, in place, if given: a buffer that already holds other gradients of ``h``).
    ``gathered``: the layer's inputs as the forward pass gathered them, if it kept them;
    ``nonzero``: no product of the layer is 0 (its products' gradients need no check)."""
    if layer.matrix is not None:
        return layer.matrix.t() @ grad
    if gathered is None and layer.reads_inputs:
        gathered = gather(h, layer.index)
    coef = grad.clone() if layer.scales else grad
    after = []
    for step, first in _firsts(layer):
        rule = _divided if nonzero and step.rule is _prod else step.rule
        if rule is _no_change:
            continue
        x = None if gathered is None else _in_shape(step, _rows(gathered, step))
        nodes = (0, first, step.size)
        factor = _AUTOGRAD
        if rule is not None:
            factor = rule(x, out.narrow(*nodes), coef.narrow(*nodes), step)
        if factor is _AUTOGRAD:
            factor = _autograd_vjp(step, _rows(gathered, step), grad.narrow(*nodes))
            after.append((step, factor, True))
        elif factor is not None:
            after.append((step, factor, False))
    if layer.dense:  # one dense step: each node's children are a block of its width
        local = coef.repeat_interleave(layer.steps[0].shape[1], dim=0)
    else:
        local = gather(coef, layer.parent)
    for step, factor, replace in after:
        rows = _in_shape(step, _rows(local, step))
        if replace:
            rows.copy_(factor)
        elif isinstance(factor, _Other):
            factor.scale(rows)
        else:
            rows.mul_(factor)
    if into is not None:
        return add_rows(into, layer.index, local)
    return scatter_add(len(h), layer.index, local)


def _firsts(layer: FusedLayer) -> Iterator[tuple[FusedStep, int]]:
    """Each step of ``layer`` with the row of its first output in the layer's output."""
    first = 0
    for step in layer.steps:
        yield step, first
        first += step.size


def _in_shape(step: FusedStep, rows: Tensor) -> Tensor:
    """A step's rows as its kernel reads them: (size, width, B) for dense steps."""
    return rows.view(*step.shape, rows.shape[1]) if step.kind == "dense" else rows


def _rows(gathered: Tensor, step: FusedStep) -> Tensor:
    if step.rows == gathered.shape[0]:
        return gathered
    return gathered.narrow(0, step.start, step.rows)


#: Most values of gathered inputs a pass keeps for its backward pass, which gathers the others
#: again (16 MB in float32): a small batch keeps them all (a kernel call less per layer), a
#: large one those of its first layers.
KEEP_GATHERED = 1 << 22

#: Most values one layer gathers for a tile of the batch on the CPU: a wider batch runs in
#: tiles of columns, each through every layer, so that a layer's inputs, outputs and gradients
#: stay in the CPU's caches (16 MB in float32; docs/benchmarks.md, "Tiles of the batch, and
#: freed memory kept for reuse").
TILE_VALUES = 1 << 22


def tiles(layers: Sequence[FusedLayer], h: Tensor) -> list[slice]:
    """The column ranges of frontier ``h`` (n, B) a pass runs one at a time: one range on a
    GPU or where the widest layer gathers at most :data:`TILE_VALUES` values; else as few
    tiles as keep each layer's gather within it."""
    if h.device.type != "cpu" or not layers:
        return [slice(None)]
    return even_spans(h.shape[1], TILE_VALUES // max(layer.width for layer in layers))


def even_spans(batch: int, most: int) -> list[slice]:
    """``batch`` columns in as few ranges of at most ``most`` columns (at least one) as hold
    them, their widths within one of each other; one range where ``most`` >= ``batch``."""
    if most >= batch:
        return [slice(None)]
    count = -(-batch // max(most, 1))
    bounds = [batch * i // count for i in range(count + 1)]
    return [slice(a, b) for a, b in pairwise(bounds)]


def columns(t: Tensor, span: slice) -> Tensor:
    """The columns ``span`` of ``t``, contiguous (``t`` itself for all of them)."""
    return t if span == slice(None) else t[:, span].contiguous()


def joined(parts: list[Tensor]) -> Tensor:
    """Tiles of columns side by side."""
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


class FusedPass(torch.autograd.Function):
    """``layers`` applied to the leaf frontier ``h`` (n, B), then the rows ``roots`` of the last
    frontier taken (None: all of it), as one autograd node (a wide batch in tiles of columns,
    :func:`tiles`); through ``compiled`` (a :class:`~nesy_torch.compiled.CompiledPass` of
    the same layers) if given."""

    @staticmethod
    def forward(
        ctx,
        h: Tensor,
        layers: Sequence[FusedLayer],
        roots: Tensor | None,
        compiled: CompiledPass | None = None,
    ) -> Tensor:
        spans = tiles(layers, h)
        if compiled is None:
            room = KEEP_GATHERED // len(spans)
            ctx.passes = [(*pass_forward(columns(h, s), layers, room), None) for s in spans]
        else:
            ctx.passes = [compiled.forward(columns(h, span)) for span in spans]
        ctx.layers, ctx.roots, ctx.spans, ctx.compiled = layers, roots, spans, compiled
        lasts = [frontiers[-1] for frontiers, *_ in ctx.passes]
        return joined([last if roots is None else gather(last, roots) for last in lasts])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        grads = []
        for (frontiers, kept, zero), span in zip(ctx.passes, ctx.spans, strict=True):
            tile = columns(grad, span)
            if ctx.compiled is None or (zero is not None and zero.item()):
                grads.append(pass_backward(frontiers, kept, ctx.layers, ctx.roots, tile))
            else:
                grads.append(ctx.compiled.backward(frontiers, tile))
        return joined(grads), None, None, None


def pass_forward(h: Tensor, layers: Sequence[FusedLayer], room: int):
    """Every frontier from ``h``, and the gathered inputs kept (up to ``room`` values)."""
    frontiers, kept = [h], []
    for layer in layers:
        if layer.matrix is not None:
            frontiers.append(layer.matrix @ frontiers[-1])
            kept.append(None)
            continue
        gathered = gather(frontiers[-1], layer.index)
        frontiers.append(layer_outputs(layer, gathered))
        room -= gathered.numel() if layer.reads_inputs else 0
        kept.append(gathered if layer.reads_inputs and room >= 0 else None)
    return frontiers, kept


def pass_backward(
    frontiers,
    kept,
    layers: Sequence[FusedLayer],
    roots: Tensor | None,
    grad: Tensor,
    nonzero: bool = False,
):
    """The gradient of the first frontier from that of the roots (``nonzero``: no product of
    the pass is 0)."""
    if roots is not None:
        grad = scatter_add(len(frontiers[-1]), roots, grad)
    for k in range(len(layers) - 1, -1, -1):
        h, out = frontiers[k], frontiers[k + 1]
        grad = layer_backward(layers[k], h, out, grad, gathered=kept[k], nonzero=nonzero)
    return grad


def zero_products(layers: Sequence[FusedLayer], frontiers: Sequence[Tensor]) -> Tensor | None:
    """Whether some product whose gradient divides by its factors is 0 in this pass (a bool
    tensor; None where no step divides): the backward then needs the exact, checked rule."""
    flags = []
    for layer, out in zip(layers, frontiers[1:], strict=True):
        for step, first in _firsts(layer):
            if step.rule is _prod and not _pairs(step):
                flags.append((out.narrow(0, first, step.size) == 0).any())
    return torch.stack(flags).any() if flags else None
