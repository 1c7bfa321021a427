"""A circuit that evaluates, per call, only the cone of the roots asked for (see
:mod:`nesy_ir.cone`): the training loss of an observed answer at the cost of its own roots."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nesy_ir.backends import check_matrix
from nesy_ir.circuit import Circuit
from nesy_ir.cone import ConeIndex, ConePart
from nesy_ir.errors import NesyError
from nesy_ir.labels import Labelling
from nesy_ir.layerize import Block, Layered, layerize
from nesy_ir.lowering import check_structures, kernel, plan_leaves

from .kernels import REDUCTIONS, UNARY
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
        self.index = ConeIndex(layered)
        self._kernels = [_kernel(block) for block in layered.blocks()]
        # leaves: rows of [static values; each dynamic kernel applied to all the labels]
        kernels = sorted(set(plan.dynamic_kernel))
        static = np.setdiff1d(np.arange(len(layered.leaves)), plan.dynamic_leaf)
        rows = np.empty(len(layered.leaves), dtype=np.int64)
        rows[static] = np.arange(len(static))
        of_kernel = np.searchsorted(kernels, np.asarray(plan.dynamic_kernel, dtype=object))
        rows[plan.dynamic_leaf] = len(static) + of_kernel * len(plan.keys) + plan.dynamic_source
        self._unary = [UNARY[k] for k in kernels]
        # no gather where the rows are the leaves, in order (every label a leaf as it comes)
        self._rows_in_order = np.array_equal(
            rows, np.arange(len(static) + len(kernels) * len(plan.keys))
        )
        self.register_buffer(
            "static", torch.as_tensor(plan.static[static], dtype=dtype)[:, None], persistent=False
        )
        self.register_buffer("leaf_rows", torch.as_tensor(rows), persistent=False)
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
        batch = x.shape[1]
        parts = [static.expand(-1, batch)] if len(static) else []
        parts += [fn(x) for fn in self._unary]
        h = torch.cat(parts) if len(parts) != 1 else parts[0]
        if not self._rows_in_order:
            h = h.index_select(0, self.leaf_rows)
        for layer in cone.layers:
            inputs = np.concatenate([part.inputs for part in layer])
            gathered = h.index_select(0, torch.from_numpy(inputs).to(h.device))
            outs, start = [], 0
            for part in layer:
                rows = gathered.narrow(0, start, len(part.inputs))
                outs.append(self._kernels[part.block](part, rows))
                start += len(part.inputs)
            h = torch.cat([h, *outs])
        return h.t().gather(1, torch.from_numpy(cone.roots).to(h.device))


def _kernel(block: Block) -> Callable[[ConePart, Tensor], Tensor]:
    """How a part of ``block`` computes its nodes (size, B) from their children's values."""
    name = kernel(block.op, block.structure)
    if block.unary:
        fn = UNARY[name]
        return lambda part, rows: fn(rows)
    reduction = REDUCTIONS[name]

    def reduce(part: ConePart, rows: Tensor) -> Tensor:
        if part.width:
            return reduction.dense(rows.view(part.size, part.width, -1))
        segments = torch.from_numpy(part.segments).to(rows.device)
        if reduction.scatter is not None:
            return reduction.scatter(rows, segments, part.size)
        width = int(part.counts.max())
        column = np.arange(len(part.inputs)) - np.repeat(
            np.cumsum(part.counts) - part.counts, part.counts
        )
        padded = rows.new_full((part.size, width, rows.shape[1]), reduction.neutral)
        where = (segments, torch.from_numpy(column).to(rows.device))
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
