"""The part of a layered circuit that some of its roots need: their cones, as compact indices.

Training on an observed answer needs one root per example, while a circuit often scores every
answer (MNIST addition's 19,999 sums at N = 4, of which a batch of 32 observes at most 32). The
cone of a set of roots, every node they reach, is then a small part of the circuit: evaluating
only it gives the same values for those roots at a fraction of the work. :class:`ConeIndex`
finds the cone of any roots in one top-down pass over the layers, O(layers + blocks + the
cone's edges) NumPy work, and lays it out as a small layered circuit of its own
(:class:`Cone`): the leaves first, then the cone's nodes of each block, in the order of the
blocks.
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
    """A cone laid out for evaluation: buffer positions ``0 .. leaves - 1`` hold the circuit's
    leaves (see :class:`ConeIndex`), then each layer's parts' nodes in turn (a part reads
    earlier layers only);
    ``roots`` (the shape of the roots asked for) are the positions of the roots asked for."""

    leaves: int
    layers: tuple[tuple[ConePart, ...], ...]
    roots: np.ndarray

    @property
    def size(self) -> int:
        """The buffer's length: the leaves' rows, then every part's nodes."""
        return self.leaves + sum(part.size for layer in self.layers for part in layer)


#: Most edges of a layer whose marking reads every edge of it (a few NumPy calls over at most
#: this many entries cost less than the dozen calls that find the marked nodes' edges).
SMALL_LAYER = 1 << 14


class ConeIndex:
    """Finds cones of a :class:`Layered` circuit's roots (see the module docstring)."""

    def __init__(
        self,
        layered: Layered,
        leaf_rows: np.ndarray | None = None,
        rows: int | None = None,
        small_layer: int = SMALL_LAYER,
    ):
        """``leaf_rows``: the buffer position of each leaf, all below ``rows`` (default: leaf i
        at i, ``rows`` the number of leaves), for a buffer whose first rows hold the leaves'
        values in another order (the labels as they come). ``small_layer``: see
        :data:`SMALL_LAYER`."""
        self.layered = layered
        blocks = layered.blocks()
        #: the layer of each block
        self._layer = np.array([k for k, layer in enumerate(layered.layers) for _ in layer])
        leaves = len(layered.leaves)
        #: the children of every node as one CSR over global ids: node i's children are
        #: ``inputs[offsets[i]:offsets[i + 1]]`` (none for a leaf)
        counts = np.zeros(layered.num_nodes, dtype=np.int64)
        for b in blocks:
            counts[b.first : b.first + b.size] = np.bincount(b.segments, minlength=b.size)
        self._offsets = np.concatenate([[0], np.cumsum(counts)])
        self._inputs = np.concatenate([np.zeros(0, np.int64), *(b.inputs for b in blocks)])
        #: the first global id of each layer, and the end
        self._layer_first = np.array(
            [layer[0].first for layer in layered.layers] + [layered.num_nodes], dtype=np.int64
        )
        self._block_first = np.array([b.first for b in blocks] + [layered.num_nodes])
        #: per block, the number of children of each of its nodes if they all have the same
        widths = (counts[b.first : b.first + b.size] for b in blocks)
        self._width = [int(c[0]) if len(c) and (c == c[0]).all() else 0 for c in widths]
        self._leaves = leaves
        #: per layer of at most ``small_layer`` edges, (parent, child) of each edge; None for
        #: the larger layers
        parent = np.repeat(np.arange(layered.num_nodes), counts)
        cuts = self._offsets[self._layer_first]
        self._layer_edges = [
            (parent[a:b], self._inputs[a:b]) if b - a <= small_layer else None
            for a, b in zip(cuts[:-1], cuts[1:], strict=True)
        ]
        self._leaf_rows = np.arange(leaves) if leaf_rows is None else np.asarray(leaf_rows)
        self._rows = leaves if rows is None else rows

    def cone(self, roots: np.ndarray) -> Cone:
        """The cone of the roots at indices ``roots`` (any shape) of the circuit's roots.

        O(layers + blocks + the cone's edges + the edges of the layers of at most
        :data:`SMALL_LAYER` edges): one top-down pass, a layer at a time, marks what the marked
        nodes read; then the marked nodes get their buffer positions, in order of their ids,
        and their children's positions are read in one go."""
        layered, offsets, inputs = self.layered, self._offsets, self._inputs
        ids = layered.roots[np.asarray(roots, dtype=np.int64)]
        needed = np.zeros(layered.num_nodes, dtype=bool)
        needed[ids] = True
        for k in range(len(self._layer_edges) - 1, -1, -1):
            edges = self._layer_edges[k]
            if edges is not None:  # a small layer: every edge's parent looked up
                needed[edges[1][needed[edges[0]]]] = True
                continue
            first, end = self._layer_first[k], self._layer_first[k + 1]
            nodes = first + np.flatnonzero(needed[first:end])
            needed[inputs[_ranges(offsets[nodes], offsets[nodes + 1] - offsets[nodes])]] = True
        leaves, rows = self._leaves, self._rows
        nodes = leaves + np.flatnonzero(needed[leaves:])
        position = np.empty(layered.num_nodes, dtype=np.int64)
        position[:leaves] = self._leaf_rows
        position[nodes] = np.arange(rows, rows + len(nodes))
        counts = offsets[nodes + 1] - offsets[nodes]
        children = position[inputs[_ranges(offsets[nodes], counts)]]
        # the nodes and children of each block: cut where the block's ids begin
        node_cut = np.searchsorted(nodes, self._block_first)
        edge_cut = np.concatenate([[0], np.cumsum(counts)])[node_cut]
        layers: list[list[ConePart]] = [[] for _ in layered.layers]
        for b in np.flatnonzero(np.diff(node_cut)).tolist():
            n0, n1, e0, e1 = node_cut[b], node_cut[b + 1], edge_cut[b], edge_cut[b + 1]
            part = ConePart(b, int(n1 - n0), children[e0:e1], counts[n0:n1], self._width[b])
            layers[self._layer[b]].append(part)
        return Cone(rows, tuple(tuple(p) for p in layers if p), position[ids])


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The concatenation of ``range(s, s + c)`` for each start s and count c."""
    total = int(counts.sum())
    shift = np.repeat(starts - np.cumsum(counts) + counts, counts)
    return shift + np.arange(total)
