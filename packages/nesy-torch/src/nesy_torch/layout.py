"""The memory layout of a lowered circuit: which values each layer keeps, and where.

Evaluation never writes into one growing buffer (autograd would copy the whole buffer per
write). Instead each layer produces a fresh tensor, its *frontier*: the outputs of its blocks
followed by the earlier values some later layer (or a root) still reads, carried by one gather.
A block reads only the previous frontier, so every step costs what it touches: its edges, plus
the carried values (``Layered.klay_padding`` in total), as in KLay.

The leaf frontier orders the dynamic leaves first (grouped by kernel), then the static leaves,
then the padding constants that dense blocks point their missing children at.

Each block is computed densely (a padded ``(size, width)`` gather then a reduction over the
width) when padding costs at most :data:`DENSE_SLACK` times its edges, else by scatter. A layer
of sums and carries only, whose 0/1 matrix (outputs x frontier) has at most
:data:`MATMUL_ENTRIES` entries, is one matrix product instead (one kernel call forwards and one
backwards, in place of gather, scatter and concatenation: the small circuits of per-batch
training, where the cost is the number of calls).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nesy_ir.layerize import Block, Layered
from nesy_ir.lowering import LeafPlan, kernel
from nesy_ir.registry import get_algebra

from .kernels import reduction, unary

#: Dense layout while size * width <= DENSE_SLACK * edges (measured: see the package README).
DENSE_SLACK = 1.5

#: Largest matrix (entries) of a layer computed as one matrix product.
MATMUL_ENTRIES = 1 << 14


@dataclass(frozen=True)
class Step:
    """One kernel of a layer. ``kind`` is 'unary', 'dense', 'scatter', 'carry' or 'matmul';
    ``index`` the frontier positions it reads ((size, width) for dense, flat otherwise; for
    'matmul', the whole layer, its (size, frontier) matrix); ``segments`` the parent of each
    entry (scatter only)."""

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


def build_layout(layered: Layered, plan: LeafPlan, dense_slack: float = DENSE_SLACK) -> Layout:
    """The layout of ``layered`` with leaves from ``plan`` (kernels resolved now: errors early)."""
    blocks_by_layer = layered.layers
    top = len(blocks_by_layer)
    num_leaves = len(layered.leaves)
    kinds = [[_kind(b, dense_slack) for b in layer] for layer in blocks_by_layer]
    pads = sorted({pad for layer in kinds for _, pad in layer if pad is not None}, key=repr)
    pad_ids = {v: layered.num_nodes + i for i, v in enumerate(pads)}

    # the last layer (1-based) reading each id; roots are read at top + 1
    last = np.zeros(layered.num_nodes + len(pads), dtype=np.int64)
    for k, layer in enumerate(blocks_by_layer, start=1):
        for b, (_, pad) in zip(layer, kinds[k - 1], strict=True):
            np.maximum.at(last, b.inputs, k)
            if pad is not None:
                last[pad_ids[pad]] = k
    last[layered.roots] = top + 1

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

    finite = _finite_values(layered, pads)
    frontier = np.asarray(order, dtype=np.int64)
    layers = []
    for k, layer in enumerate(blocks_by_layer, start=1):
        position = np.full(len(last), -1, dtype=np.int64)
        position[frontier] = np.arange(len(frontier))
        steps = [
            _step(b, kind, position, pad_ids) for b, kind in zip(layer, kinds[k - 1], strict=True)
        ]
        carried = frontier[last[frontier] > k]
        if len(carried):
            steps.append(Step("carry", "identity", position[carried], len(carried)))
        matmul = _as_matmul(steps, len(frontier)) if finite[frontier].all() else None
        layers.append((matmul,) if matmul is not None else tuple(steps))
        outputs = [np.arange(b.first, b.first + b.size) for b in layer]
        frontier = np.concatenate([*outputs, carried])
    position = np.full(len(last), -1, dtype=np.int64)
    position[frontier] = np.arange(len(frontier))
    return _folded(Layout(tuple(dynamic), static, tuple(layers), position[layered.roots]))


def _folded(layout: Layout) -> Layout:
    """The same layout with two gathers folded into their neighbours where that is exact: the
    leaf frontier when it only reorders the labels (into the first layer's indices), and the
    roots of a last 'matmul' layer (into its rows)."""
    dynamic, layers, roots = layout.dynamic, list(layout.layers), layout.roots
    if layers and len(layout.static) == 0 and len(dynamic) == 1 and dynamic[0][0] == "identity":
        sources = dynamic[0][1]
        layers[0] = tuple(_read_through(step, sources) for step in layers[0])
        dynamic = (("identity", np.arange(sources.max(initial=-1) + 1)),)
    if layers and layers[-1][0].kind == "matmul":
        (last,) = layers[-1]
        layers[-1] = (Step("matmul", "sum", last.index[roots], len(roots)),)
        roots = np.arange(len(roots))
    return Layout(dynamic, layout.static, tuple(layers), roots)


def _read_through(step: Step, sources: np.ndarray) -> Step:
    """``step`` reading ``x[sources]`` as it read the frontier, made to read ``x`` itself."""
    if step.kind != "matmul":
        return Step(step.kind, step.kernel, sources[step.index], step.size, step.segments)
    matrix = np.zeros((step.size, sources.max(initial=-1) + 1))
    np.add.at(matrix.T, sources, step.index.T)
    return Step("matmul", step.kernel, matrix, step.size)


def _finite_values(layered: Layered, pads: list[float]) -> np.ndarray:
    """Per id (nodes, then padding constants), whether its value is surely finite (its
    structure's carrier is bounded): a matrix product multiplies every frontier value, and
    0 * inf is NaN."""
    bounded = {}
    for name in {leaf.structure for leaf in layered.leaves} | {
        b.structure for b in layered.blocks()
    }:
        carrier = get_algebra(name).carrier
        bounded[name] = carrier.boolean or bool(np.isfinite([carrier.low, carrier.high]).all())
    finite = np.zeros(layered.num_nodes + len(pads), dtype=bool)
    finite[: len(layered.leaves)] = [bounded[leaf.structure] for leaf in layered.leaves]
    for b in layered.blocks():
        finite[b.first : b.first + b.size] = bounded[b.structure]
    finite[layered.num_nodes :] = np.isfinite(pads)
    return finite


_LINEAR = {("dense", "sum"), ("scatter", "sum"), ("carry", "identity")}


def _as_matmul(steps: list[Step], width: int) -> Step | None:
    """The layer as one 'matmul' step, when it only sums and carries and its matrix is small."""
    size = sum(s.size for s in steps)
    if size * width > MATMUL_ENTRIES or any((s.kind, s.kernel) not in _LINEAR for s in steps):
        return None
    matrix, offset = np.zeros((size, width)), 0
    for s in steps:
        if s.kind == "dense":  # padded places read the sum's neutral 0: they add nothing
            rows, columns = np.repeat(np.arange(s.size), s.index.shape[1]), s.index.reshape(-1)
        elif s.kind == "scatter":
            rows, columns = s.segments, s.index
        else:
            rows, columns = np.arange(s.size), s.index
        np.add.at(matrix, (rows + offset, columns), 1.0)
        offset += s.size
    return Step("matmul", "sum", matrix, size)


def check_kernels(layered: Layered) -> None:
    """Raise a NesyError now if some block's kernel has no torch code."""
    for block in layered.blocks():
        name, where = kernel(block.op, block.structure), f"{block.op} in {block.structure}"
        unary(name, where) if block.unary else reduction(name, where)


def _kind(block: Block, slack: float) -> tuple[str, float | None]:
    """How a block is computed ('unary', 'dense' or 'scatter') and the padding constant a dense
    block reads (None when every node has the full width or the block is not dense)."""
    name = kernel(block.op, block.structure)
    where = f"{block.op} in {block.structure}"
    if block.unary:
        unary(name, where)
        return "unary", None
    red = reduction(name, where)
    counts = np.bincount(block.segments, minlength=block.size)
    width = int(counts.max()) if block.size else 0
    if red.scatter is None or block.size * width <= slack * len(block.inputs):
        return "dense", red.neutral if (counts < width).any() else None
    return "scatter", None


def _step(block: Block, kind: tuple[str, float | None], position: np.ndarray, pad_ids) -> Step:
    name = kernel(block.op, block.structure)
    inputs = position[block.inputs]
    if kind[0] == "unary":
        return Step("unary", name, inputs, block.size)
    if kind[0] == "scatter":
        return Step("scatter", name, inputs, block.size, block.segments)
    index, mask = block.dense()
    dense = np.full(index.shape, -1 if kind[1] is None else position[pad_ids[kind[1]]])
    dense[mask] = inputs
    return Step("dense", name, dense.astype(np.int64), block.size)
