"""Layerization: a circuit as plain integer index arrays, evaluated by gather + segment reduce.

Every node gets a global id: the leaves (label slots and constants) first, then the internal
nodes layer by layer, where a node's layer is one more than its deepest child's (leaves: 0).
Within a layer the nodes are grouped into :class:`Block` s of one operation and structure whose
outputs have consecutive ids. A backend keeps one buffer of all values computed so far (leaves,
then each layer appended) and computes a block as ``segment_reduce(buffer[inputs], segments)``:
one kernel per block and no Python loop over nodes. Children may sit in any earlier layer, so no
identity nodes carry values upwards (``padding`` is 0); ``klay_padding`` says how many a
KLay-style layout, where each layer reads only the previous one, would need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .circuit import Circuit
from .evaluate import _atom_value, _Batch, as_labelling
from .labels import Labelling
from .nodes import Kind, Node
from .registry import get_algebra, get_transformation


@dataclass(frozen=True, eq=False)
class Block:
    """The nodes of one layer sharing an operation and a structure.

    ``op`` is ``'plus'``, ``'times'``, ``'neg'`` or ``'transform:{source}->{target}'``;
    ``structure`` is the structure of the outputs (the target of a transformation). ``inputs``
    (int64, E) are the global ids of the children of all nodes, concatenated; ``segments`` (int64,
    E, sorted) the position 0..size-1 of each entry's parent within the block. The outputs get
    the global ids ``first .. first + size - 1``. Unary blocks have exactly one entry per node.
    """

    op: str
    structure: str
    first: int
    size: int
    inputs: np.ndarray
    segments: np.ndarray

    @property
    def role(self) -> str:
        """'plus', 'times', 'neg' or 'transform'."""
        return self.op.split(":", 1)[0]

    @property
    def transformation(self) -> tuple[str, str] | None:
        """(source, target) of a transformation block, else None."""
        if self.role != "transform":
            return None
        source, target = self.op.split(":", 1)[1].split("->")
        return source, target

    @property
    def unary(self) -> bool:
        return self.role in ("neg", "transform")

    @property
    def starts(self) -> np.ndarray:
        """The offset in ``inputs`` of each node's first child (for ``reduceat``-style kernels)."""
        return np.searchsorted(self.segments, np.arange(self.size))

    def dense(self) -> tuple[np.ndarray, np.ndarray]:
        """(index, mask), both (size, max fan-in): the children of each node left-aligned.

        Padded places have ``mask`` False and index 0; a generic kernel folds the columns after
        replacing them by the operation's neutral element.
        """
        counts = np.bincount(self.segments, minlength=self.size)
        width = int(counts.max(initial=0))
        position = np.arange(len(self.inputs)) - self.starts[self.segments]
        index = np.zeros((self.size, width), dtype=np.int64)
        mask = np.zeros((self.size, width), dtype=bool)
        index[self.segments, position] = self.inputs
        mask[self.segments, position] = True
        return index, mask


@dataclass(frozen=True, eq=False)
class Layered:
    """A layerized circuit: leaves, blocks per layer, and the global ids of the roots.

    Global ids: ``0 .. len(leaves) - 1`` are ``leaves[i]`` (atoms and constants); each block of
    ``layers[k]`` (internal layer k + 1) covers ``first .. first + size - 1``; ids are assigned
    in order of layers, then blocks, so every child id is smaller than its parent's.
    """

    leaves: tuple[Node, ...]
    layers: tuple[tuple[Block, ...], ...]
    roots: np.ndarray
    names: tuple[str, ...]
    num_nodes: int
    padding: int = 0
    klay_padding: int = 0

    def blocks(self) -> list[Block]:
        """Every block, in evaluation order."""
        return [b for layer in self.layers for b in layer]

    def structure_of(self, gid: int) -> str:
        """The structure of the value of the node with global id ``gid``."""
        if gid < len(self.leaves):
            return self.leaves[gid].structure
        for b in self.blocks():
            if b.first <= gid < b.first + b.size:
                return b.structure
        raise IndexError(f"no node with id {gid}")

    def stats(self) -> dict[str, int]:
        """Sizes: nodes, leaves, edges, layers, blocks, padding, klay_padding, max_width."""
        return {
            "nodes": self.num_nodes,
            "leaves": len(self.leaves),
            "edges": sum(len(b.inputs) for b in self.blocks()),
            "layers": len(self.layers),
            "blocks": len(self.blocks()),
            "padding": self.padding,
            "klay_padding": self.klay_padding,
            "max_width": max((sum(b.size for b in layer) for layer in self.layers), default=0),
        }


def _op(node: Node) -> str:
    if node.kind is Kind.TRANSFORM:
        return f"transform:{node.arg}->{node.structure}"
    return node.arg


def layerize(circuit: Circuit) -> Layered:
    """The layered form of ``circuit`` (deterministic: leaves and nodes in post-order)."""
    order = circuit.nodes()
    leaves = [n for n in order if not n.children]
    ids: dict[Node, int] = {n: i for i, n in enumerate(leaves)}
    level: dict[Node, int] = dict.fromkeys(leaves, 0)
    groups: dict[int, dict[tuple[str, str], list[Node]]] = {}
    for n in order:
        if n.children:
            level[n] = 1 + max(level[c] for c in n.children)
            groups.setdefault(level[n], {}).setdefault((_op(n), n.structure), []).append(n)
    layers = []
    next_id = len(leaves)
    for k in range(1, len(groups) + 1):
        blocks = []
        for (op, structure), nodes in sorted(groups[k].items()):
            ids.update((n, next_id + i) for i, n in enumerate(nodes))
            inputs = [ids[c] for n in nodes for c in n.children]
            segments = [i for i, n in enumerate(nodes) for _ in n.children]
            blocks.append(Block(op, structure, next_id, len(nodes), _ints(inputs), _ints(segments)))
            next_id += len(nodes)
        layers.append(tuple(blocks))
    return Layered(
        leaves=tuple(leaves),
        layers=tuple(layers),
        roots=_ints([ids[r] for r in circuit.roots]),
        names=circuit.names,
        num_nodes=next_id,
        padding=0,
        klay_padding=_klay_padding(order, circuit.roots, level, len(layers)),
    )


def _ints(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _klay_padding(order: list[Node], roots, level: dict[Node, int], top: int) -> int:
    """Identity nodes a layout reading only the previous layer needs: each value is carried up
    to the layer below its highest parent, and each root up to the top layer."""
    reach = {n: level[n] for n in order}
    for n in order:
        for c in n.children:
            reach[c] = max(reach[c], level[n] - 1)
    for r in roots:
        reach[r] = top
    return sum(reach[n] - level[n] for n in order)


# --- the NumPy reference of layered evaluation -----------------------------------------------


def _leaf_values(layered: Layered, labels: Labelling, env: Mapping[str, Any]):
    batch = _Batch()
    values = []
    for n in layered.leaves:
        if n.kind is Kind.CONST:
            values.append(np.asarray(n.arg))
        else:
            values.append(_atom_value(n, env, labels, batch))
    return values, batch.size


def _reduce_block(block: Block, gathered: np.ndarray) -> np.ndarray:
    """Segment-reduce ``gathered`` (E, B) into (size, B) with the block's operation."""
    algebra = get_algebra(block.structure)
    if block.role == "transform":
        return get_transformation(*block.transformation).fn(gathered)
    if block.role == "neg":
        return algebra.neg(gathered)
    op = algebra.operation(block.role)
    if isinstance(op, np.ufunc):
        return op.reduceat(gathered, block.starts, axis=0)
    index, mask = block.dense()  # no ufunc: fold the padded columns with the neutral element
    position = np.full(index.shape, -1, dtype=np.int64)
    position[mask] = np.arange(len(block.inputs))
    neutral = algebra.carrier.coerce(algebra.neutral(block.role)).astype(float)
    columns = np.where(mask[..., None], gathered[position], neutral)
    out = columns[:, 0]
    for j in range(1, columns.shape[1]):
        out = op(out, columns[:, j])
    return out


def evaluate_layered(
    layered: Layered,
    labels: Labelling | Mapping | None = None,
    env: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """The value of every root by name, block by block (the oracle for the backends).

    Leaves are labelled like :func:`nesy_ir.evaluate_circuit` does. All values live in one
    float buffer of shape (num_nodes, B); roots come back with shape (B,) when any label is
    batched, else as scalars, and as booleans where their structure's carrier is Boolean.
    """
    leaf_values, batch = _leaf_values(layered, as_labelling(labels), dict(env or {}))
    width = batch or 1
    buffer = np.empty((layered.num_nodes, width), dtype=float)
    for i, v in enumerate(leaf_values):
        buffer[i] = np.broadcast_to(np.asarray(v, dtype=float), (width,))
    for block in layered.blocks():
        buffer[block.first : block.first + block.size] = _reduce_block(block, buffer[block.inputs])
    result = {}
    for name, gid in zip(layered.names, layered.roots.tolist(), strict=True):
        value = buffer[gid] if batch is not None else buffer[gid, 0]
        if get_algebra(layered.structure_of(gid)).carrier.boolean:
            value = value.astype(bool)
        result[name] = np.asarray(value)
    return result
