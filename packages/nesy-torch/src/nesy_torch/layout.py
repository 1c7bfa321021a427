"""The memory layout of a lowered circuit: which values each layer keeps, and where.

Evaluation never writes into one growing buffer (autograd would copy the whole buffer per
write). Instead each layer produces a fresh tensor, its *frontier*: the outputs of its blocks
followed by the earlier values some later layer (or a root) still reads, carried by one gather.
A block reads only the previous frontier, so every step costs what it touches: its edges, plus
the carried values (``Layered.klay_padding`` in total), as in KLay.

The leaf frontier orders the dynamic leaves first (grouped by kernel), then the static leaves,
then the padding constants that dense blocks point their missing children at.

Each block is computed densely (a padded ``(size, width)`` gather then a reduction over the
width) when padding costs at most :data:`DENSE_SLACK` times its edges, else by scatter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nesy_ir.layerize import Block, Layered
from nesy_ir.lowering import LeafPlan, kernel

from .kernels import REDUCTIONS, reduction, unary

#: Dense layout while size * width <= DENSE_SLACK * edges (measured: see the package README).
DENSE_SLACK = 1.5


@dataclass(frozen=True)
class Step:
    """One kernel of a layer. ``kind`` is 'unary', 'dense', 'scatter' or 'carry'; ``index`` the
    frontier positions it reads ((size, width) for dense, flat otherwise); ``segments`` the
    parent of each entry (scatter only)."""

    kind: str
    kernel: str
    index: np.ndarray
    size: int
    segments: np.ndarray | None = None


@dataclass(frozen=True)
class Layout:
    """Leaf frontier and layers of steps; ``roots`` are positions in the last frontier."""

    dynamic: tuple[tuple[str, np.ndarray], ...]  # (unary kernel, key indices) per group
    static: np.ndarray  # values of the static leaves and padding constants, in frontier order
    layers: tuple[tuple[Step, ...], ...]
    roots: np.ndarray


def _pad_constants() -> list[float]:
    return sorted({r.neutral for r in REDUCTIONS.values()}, key=repr)


def build_layout(layered: Layered, plan: LeafPlan, dense_slack: float = DENSE_SLACK) -> Layout:
    """The layout of ``layered`` with leaves from ``plan`` (kernels resolved now: errors early)."""
    blocks_by_layer = layered.layers
    top = len(blocks_by_layer)
    num_leaves = len(layered.leaves)
    pads = _pad_constants()
    pad_ids = {v: layered.num_nodes + i for i, v in enumerate(pads)}

    # the last layer (1-based) reading each id; roots and padding constants are read at top + 1
    last = np.zeros(layered.num_nodes + len(pads), dtype=np.int64)
    created = np.zeros_like(last)
    for k, layer in enumerate(blocks_by_layer, start=1):
        for b in layer:
            created[b.first : b.first + b.size] = k
            np.maximum.at(last, b.inputs, k)
    last[layered.roots] = top + 1
    last[layered.num_nodes :] = top + 1

    # leaf frontier: dynamic leaves by kernel, static leaves, padding constants
    dynamic, order = [], []
    is_dynamic = np.zeros(num_leaves, dtype=bool)
    for name, (leaves, sources) in plan.kernel_groups().items():
        unary(name, "a dynamic leaf label")
        dynamic.append((name, sources))
        order.extend(leaves.tolist())
        is_dynamic[leaves] = True
    static_ids = [i for i in range(num_leaves) if not is_dynamic[i]]
    order += static_ids + list(pad_ids.values())
    static = np.concatenate([plan.static[static_ids], np.asarray(pads, dtype=float)])

    frontier = np.asarray(order, dtype=np.int64)
    layers = []
    for k, layer in enumerate(blocks_by_layer, start=1):
        position = np.full(len(last), -1, dtype=np.int64)
        position[frontier] = np.arange(len(frontier))
        steps = [_step(b, position, pad_ids, dense_slack) for b in layer]
        carried = frontier[last[frontier] > k]
        if len(carried):
            steps.append(Step("carry", "identity", position[carried], len(carried)))
        layers.append(tuple(steps))
        outputs = [np.arange(b.first, b.first + b.size) for b in layer]
        frontier = np.concatenate([*outputs, carried])
    position = np.full(len(last), -1, dtype=np.int64)
    position[frontier] = np.arange(len(frontier))
    return Layout(tuple(dynamic), static, tuple(layers), position[layered.roots])


def check_kernels(layered: Layered) -> None:
    """Raise a NesyError now if some block's kernel has no torch code."""
    for block in layered.blocks():
        name, where = kernel(block.op, block.structure), f"{block.op} in {block.structure}"
        unary(name, where) if block.unary else reduction(name, where)


def _step(block: Block, position: np.ndarray, pad_ids: dict, slack: float) -> Step:
    name = kernel(block.op, block.structure)
    where = f"{block.op} in {block.structure}"
    inputs = position[block.inputs]
    if block.unary:
        unary(name, where)
        return Step("unary", name, inputs, block.size)
    red = reduction(name, where)
    index, mask = block.dense()
    if red.scatter is None or index.size <= slack * len(block.inputs):
        dense = np.full(index.shape, position[pad_ids[red.neutral]], dtype=np.int64)
        dense[mask] = inputs
        return Step("dense", name, dense, block.size)
    return Step("scatter", name, inputs, block.size, block.segments)
