"""A circuit that evaluates, per call, only the cone of the roots asked for (see
:mod:`nesy_ir.cone`): the training loss of an observed answer at the cost of its own roots."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from nesy_ir.backends import check_matrix
from nesy_ir.circuit import Circuit
from nesy_ir.cone import Cone, ConeIndex, ConePart
from nesy_ir.errors import NesyError
from nesy_ir.labels import Labelling
from nesy_ir.layerize import Block, Layered, layerize
from nesy_ir.lowering import check_structures, kernel, plan_leaves

from . import native
from .fused import FusedLayer, FusedStep, gather, layer_backward, layer_outputs
from .kernels import REDUCTIONS, UNARY, Reduction
from .layout import check_kernels
from .module import torch_dtype


class ConeCircuit(nn.Module):
    """``circuit(x (B, K), roots (B, G))`` -> (B, G): example b's value of each root
    ``roots[b, g]`` (indices into :attr:`names`), computed over the union of the asked roots'
    cones only; keys in :attr:`keys` order, as :meth:`LoweredCircuit.matrix` takes them. Values
    and gradients are those of the whole circuit's roots."""

    def __init__(
        self,
        layered: Layered,
        labels: Labelling | Mapping | None = None,
        dynamic: Iterable[str] = (),
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        env: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        check_structures(layered)
        check_kernels(layered)
        plan = plan_leaves(layered, labels, dynamic, env)
        self.keys, self.names = plan.keys, layered.names
        blocks = layered.blocks()
        self._steps = [_step(block) for block in blocks]
        codes = [native.native_code(kernel(b.op, b.structure), b.unary) for b in blocks]
        #: each block's operation in the native pass; None where one has none
        self._codes = codes if None not in codes else None
        #: Whether the cone runs as one autograd node (its backward differentiable once);
        #: False records every op (higher-order gradients).
        self.fuse = True
        #: Whether a fused cone runs in C (:mod:`nesy_torch.native`) where it can: every kernel
        #: built in and native, a CPU batch in float32 or float64, a C compiler.
        self.native = True
        # the buffer's first rows: [static values; each dynamic kernel applied to all labels],
        # each leaf read where its value is (no reordering)
        kernels = sorted(set(plan.dynamic_kernel))
        static = np.setdiff1d(np.arange(len(layered.leaves)), plan.dynamic_leaf)
        rows = np.empty(len(layered.leaves), dtype=np.int64)
        rows[static] = np.arange(len(static))
        of_kernel = np.searchsorted(kernels, np.asarray(plan.dynamic_kernel, dtype=object))
        rows[plan.dynamic_leaf] = len(static) + of_kernel * len(plan.keys) + plan.dynamic_source
        self.index = ConeIndex(layered, rows, len(static) + len(kernels) * len(plan.keys))
        self._unary = [UNARY[k] for k in kernels]
        leaf_codes = [native.native_code(k, unary=True) for k in kernels]
        #: the dynamic kernels' operation codes, where the native pass applies them all itself
        self._kernels = bytes(leaf_codes) if None not in leaf_codes else None
        self.register_buffer(
            "static", torch.as_tensor(plan.static[static], dtype=dtype)[:, None], persistent=False
        )
        self.to(device)

    def forward(self, x: Any, roots: Any) -> Tensor:
        """(B, K) dynamic labels and (B, G) root indices -> (B, G) values."""
        check_matrix(x, self.keys)
        static = self.static
        x = torch.as_tensor(x, dtype=static.dtype, device=static.device).t()
        roots = np.asarray(torch.as_tensor(roots).cpu(), dtype=np.int64)
        if roots.ndim != 2 or roots.shape[0] != x.shape[1]:
            raise NesyError(
                f"roots must be (batch, groups) with batch {x.shape[1]}, not {roots.shape}"
            )
        if roots.size and (roots.min() < 0 or roots.max() >= len(self.names)):
            raise NesyError(f"root indices must lie in 0..{len(self.names) - 1}")
        cone = self.index.cone(roots)
        groups = _groups(cone, x)
        if len(groups) == 1:
            return self._evaluate(x, cone, roots.shape)
        return torch.cat(
            [self._evaluate(x[:, g], self.index.cone(roots[g]), roots[g].shape) for g in groups]
        )

    def leaves(self, x: Tensor) -> Tensor:
        """(K, B) dynamic labels -> the buffer's first rows (:attr:`index`'s leaf rows)."""
        static = self.static
        parts = [static.expand(-1, x.shape[1])] if len(static) else []
        parts += [fn(x) for fn in self._unary]
        return torch.cat(parts) if len(parts) != 1 else parts[0]

    def _evaluate(self, x: Tensor, cone: Cone, shape: tuple[int, ...]) -> Tensor:
        """(K, B) dynamic labels -> (B, G) values of the cone's roots."""
        batch, device = x.shape[1], x.device
        if self.fuse:  # the roots' values at (position, example) in the flat buffer
            flat = _long((cone.roots * batch + np.arange(batch)[:, None]).reshape(shape), device)
            if self.runs_natively(x):
                program = native.Program.of(cone, self._codes)
                return native.run(program, *self.native_labels(x.t()), flat)
            fused = self._fused_layers(cone, device)
            return _ConePass.apply(self.leaves(x), fused, flat.view(-1), shape)
        h = self.leaves(x)
        for _, _, layer in self._fused_layers(cone, device).layers:
            h = torch.cat([h, layer_outputs(layer, gather(h, layer.index))])
        return h.t().gather(1, _long(np.broadcast_to(cone.roots, shape).copy(), device))

    def native_labels(self, x: Tensor) -> tuple[Tensor, Tensor, bytes]:
        """The labels ``x`` (B, K) as :func:`nesy_torch.native.run` takes them: the labels, the
        static leaf values and the dynamic kernels, or the leaf rows whole where the native
        pass lacks a dynamic kernel."""
        if self._kernels is not None:  # the buffer read without Module.__getattr__ (1 us)
            return x, self._buffers["static"], self._kernels
        return self.leaves(x.t()).t(), self.static[:0], native.ROWS

    def runs_natively(self, x: Tensor) -> bool:
        """Whether a fused cone of labels like ``x`` runs in C (see :attr:`native`)."""
        return self.native and self._codes is not None and native.runs_natively(x)

    def _fused_layers(self, cone: Cone, device: torch.device) -> _Fused:
        """The cone's layers as :class:`~nesy_torch.fused.FusedLayer` s, each with the buffer
        position of its first node."""
        layers, first = [], cone.leaves
        for layer in cone.layers:
            steps, start = [], 0
            for part in layer:
                steps.append(self._steps[part.block](part, start, device))
                start += len(part.inputs)
            size = sum(part.size for part in layer)
            parent = None  # one dense step spreads its gradients by repeating them
            if len(steps) > 1 or steps[0].kind != "dense":
                counts = np.concatenate([part.counts for part in layer])
                parent = _long(np.repeat(np.arange(size), counts), device)
            layers.append(
                (first, size, FusedLayer(_long(_inputs(layer), device), parent, tuple(steps)))
            )
            first += size
        return _Fused(tuple(layers), first)


#: Most values of a cone's buffer for one group of examples on the CPU: a batch whose cone
#: is larger runs in groups of examples, each over its own cone, so that the buffers of values
#: and gradients stay in the CPU's caches (4 MB each in float32; docs/benchmarks.md, "Tiles of
#: the batch, and freed memory kept for reuse").
TILE_VALUES = 1 << 20


def _groups(cone: Cone, x: Tensor) -> list[slice]:
    """The examples (columns of ``x`` (K, B)) evaluated together: all of them on a GPU, else
    groups of :func:`group_width` examples."""
    batch = x.shape[1]
    return slices(batch, batch if x.device.type != "cpu" else group_width(cone.size, batch))


def slices(batch: int, width: int) -> list[slice]:
    """``batch`` examples in groups of ``width``."""
    if width >= batch:
        return [slice(None)]
    return [slice(a, a + width) for a in range(0, batch, width)]


def group_width(size: int, batch: int) -> int:
    """How many of ``batch`` examples a cone of ``size`` rows evaluates together on the CPU:
    all of them where its buffer holds at most :data:`TILE_VALUES` values, else groups that
    keep it within that, a multiple of :data:`ALIGN` examples (each row of a group's buffer
    then starts a cache line: the native pass's loops run 1.5 to 2x slower over 57 examples
    than over 64) and at least :data:`NARROWEST` (a narrower group pays each node's loop
    overhead for too few examples: MNIST addition N = 4's unfused 62,597 rows, forward +
    backward at batch 32 took 5.1 ms in two groups of 16 and 4.0 in one; measured)."""
    most = TILE_VALUES // max(size, 1)
    return batch if most >= batch else max(most - most % ALIGN, NARROWEST)


#: Examples per cache line of float32 values.
ALIGN = 16

#: The fewest examples of a group (see :func:`group_width`).
NARROWEST = 2 * ALIGN


def _inputs(layer: tuple[ConePart, ...]) -> np.ndarray:
    """The buffer positions a layer's parts read, all parts in turn."""
    return layer[0].inputs if len(layer) == 1 else np.concatenate([p.inputs for p in layer])


def _long(a: np.ndarray, device: torch.device) -> Tensor:
    return torch.from_numpy(a).to(device)


@dataclass(frozen=True)
class _Fused:
    """A cone's layers for :class:`_ConePass`: (first buffer position, size, layer) each, and
    the buffer's length."""

    layers: tuple[tuple[int, int, FusedLayer], ...]
    end: int


class _ConePass(torch.autograd.Function):
    """The cone's layers as one autograd node (as :class:`~nesy_torch.fused.FusedPass` for
    the whole circuit): forwards, every node's value written into one buffer (leaves, then each
    layer's nodes); backwards, each layer's gradient added into one buffer of gradients by
    :func:`~nesy_torch.fused.layer_backward`, from the last layer to the first. A handful of
    kernel calls per layer, where recording every op puts a dozen autograd nodes per layer."""

    @staticmethod
    def forward(ctx, h: Tensor, fused: _Fused, flat: Tensor, shape: tuple[int, ...]) -> Tensor:
        values = h.new_empty((fused.end, h.shape[1]))
        values.narrow(0, 0, len(h)).copy_(h)
        for first, size, layer in fused.layers:
            values.narrow(0, first, size).copy_(layer_outputs(layer, gather(values, layer.index)))
        ctx.values, ctx.fused, ctx.flat, ctx.leaves = values, fused, flat, len(h)
        return values.view(-1).index_select(0, flat).view(shape)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        values = ctx.values
        grads = torch.zeros_like(values)
        grads.view(-1).index_add_(0, ctx.flat, grad.reshape(-1))
        for first, size, layer in reversed(ctx.fused.layers):
            out, into = values.narrow(0, first, size), grads.narrow(0, first, size)
            layer_backward(layer, values, out, into, into=grads)
        return grads.narrow(0, 0, ctx.leaves), None, None, None


def _step(block: Block) -> Callable[[ConePart, int, torch.device], FusedStep]:
    """How a part of ``block`` whose children are rows ``start..`` of its layer's gather is a
    :class:`~nesy_torch.fused.FusedStep`."""
    name = kernel(block.op, block.structure)
    if block.unary:
        fn = UNARY[name]
        return lambda part, start, device: FusedStep(
            "unary", name, fn, start, len(part.inputs), part.size
        )
    reduction = REDUCTIONS[name]

    def step(part: ConePart, start: int, device: torch.device) -> FusedStep:
        rows, size = len(part.inputs), part.size
        if part.width:
            return FusedStep("dense", name, reduction.dense, start, rows, size, (size, part.width))
        segments = _long(part.segments, device)
        if reduction.scatter is not None:
            return FusedStep("scatter", name, reduction.scatter, start, rows, size, None, segments)
        return FusedStep("padded", name, _padded(reduction, part, segments), start, rows, size)

    return step


def _padded(reduction: Reduction, part: ConePart, segments: Tensor) -> Callable[[Tensor], Tensor]:
    """A part's nodes of unequal widths reduced by the dense form alone: their children (E, B)
    placed in a (size, widest, B) tensor padded with the reduction's neutral value."""
    column = np.arange(len(part.inputs)) - np.repeat(
        np.cumsum(part.counts) - part.counts, part.counts
    )
    width = int(part.counts.max())
    where = (segments, _long(column, segments.device))

    def reduce(rows: Tensor) -> Tensor:
        padded = rows.new_full((part.size, width, rows.shape[1]), reduction.neutral)
        return reduction.dense(padded.index_put(where, rows))

    return reduce


def lower_cone(
    circuit: Circuit | Layered,
    labels: Labelling | Mapping | None = None,
    dynamic: Iterable[str] = (),
    *,
    env: Mapping[str, Any] | None = None,
    dtype: torch.dtype | str | None = None,
    device: torch.device | str | None = None,
) -> ConeCircuit:
    """``circuit`` as a :class:`ConeCircuit`: the values of the roots each example asks for,
    at the cost of their cones (``labels``, ``dynamic``, ``env`` and ``dtype`` as in
    :func:`nesy_torch.lower`)."""
    layered = circuit if isinstance(circuit, Layered) else layerize(circuit)
    return ConeCircuit(layered, labels, dynamic, dtype=torch_dtype(dtype), device=device, env=env)
