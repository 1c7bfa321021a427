"""The part of a layered circuit that some of its roots need: their cones, as compact indices.

Training on an observed answer needs one root per example, while a circuit often scores every
answer (MNIST addition's 19,999 sums at N = 4, of which a batch of 32 observes at most 32). The
cone of a set of roots, every node they reach, is then a small part of the circuit: evaluating
only it gives the same values for those roots at a fraction of the work. :class:`ConeIndex`
finds the cone of any roots in one top-down pass over the blocks, O(blocks + the cone's edges)
NumPy work, and lays it out as a small layered circuit of its own (:class:`Cone`): every leaf
kept at its place, then the cone's nodes of each block, in the order of the blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layerize import Layered


@dataclass(frozen=True, eq=False)
class ConePart:
    """The nodes of one block that a cone needs: ``size`` of them, the index of the block in
    :meth:`Layered.blocks`, their children's positions in the cone's buffer (``inputs``, all
    children of each node in turn), how many children each has (``counts``) and that number
    where the block's nodes all have the same (``width``; 0 otherwise)."""

    block: int
    size: int
    inputs: np.ndarray
    counts: np.ndarray
    width: int = 0

    @property
    def segments(self) -> np.ndarray:
        """The node (0..size-1) each entry of ``inputs`` belongs to."""
        return np.repeat(np.arange(self.size), self.counts)


@dataclass(frozen=True, eq=False)
class Cone:
    """A cone laid out for evaluation: buffer positions ``0 .. leaves - 1`` are the circuit's
    leaves, then each layer's parts' nodes in turn (a part reads earlier layers only);
    ``roots`` (the shape of the roots asked for) are the positions of the roots asked for."""

    leaves: int
    layers: tuple[tuple[ConePart, ...], ...]
    roots: np.ndarray


class ConeIndex:
    """Finds cones of a :class:`Layered` circuit's roots (see the module docstring)."""

    def __init__(self, layered: Layered):
        self.layered = layered
        blocks = layered.blocks()
        #: the layer of each block
        self._layer = [k for k, layer in enumerate(layered.layers) for _ in layer]
        #: per block, the offset of each node's first child in ``block.inputs`` (size + 1)
        self._offsets = [
            np.concatenate([[0], np.cumsum(np.bincount(b.segments, minlength=b.size))])
            for b in blocks
        ]
        self._blocks = blocks
        #: per block, the number of children of each of its nodes if they all have the same
        self._width = [
            int(d[0]) if len(d) and (d == d[0]).all() else 0
            for d in (np.diff(o) for o in self._offsets)
        ]

    def cone(self, roots: np.ndarray) -> Cone:
        """The cone of the roots at indices ``roots`` (any shape) of the circuit's roots.

        O(blocks + the cone's edges): one top-down pass marks what each block's marked nodes
        read, one bottom-up pass gives the marked nodes their buffer positions."""
        layered = self.layered
        ids = layered.roots[np.asarray(roots, dtype=np.int64)]
        needed = np.zeros(layered.num_nodes, dtype=bool)
        needed[ids] = True
        picked = []
        for b in reversed(range(len(self._blocks))):
            block, offsets = self._blocks[b], self._offsets[b]
            local = np.flatnonzero(needed[block.first : block.first + block.size])
            counts = offsets[local + 1] - offsets[local]
            edges = _ranges(offsets[local], counts)
            needed[block.inputs[edges]] = True
            picked.append((b, local, counts, edges))
        leaves = len(layered.leaves)
        position = np.full(layered.num_nodes, -1, dtype=np.int64)
        position[:leaves] = np.arange(leaves)
        layers: list[list[ConePart]] = [[] for _ in layered.layers]
        end = leaves
        for b, local, counts, edges in reversed(picked):
            if not len(local):
                continue
            block = self._blocks[b]
            inputs = position[block.inputs[edges]]
            position[block.first + local] = np.arange(end, end + len(local))
            end += len(local)
            layers[self._layer[b]].append(ConePart(b, len(local), inputs, counts, self._width[b]))
        return Cone(leaves, tuple(tuple(p) for p in layers if p), position[ids])


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The concatenation of ``range(s, s + c)`` for each start s and count c."""
    total = int(counts.sum())
    shift = np.repeat(starts - np.cumsum(counts) + counts, counts)
    return shift + np.arange(total)
