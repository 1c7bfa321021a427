"""A task's symbolic part as a factor graph over categorical variables, for belief propagation.

The first ``symbols`` variables are the task's neural symbols (one per image term, the classes of
its neural predicate; their prior is the network's distribution); the rest are auxiliary
variables (carries, ...) with a uniform prior. Each factor is a 0/1 table over its scope; a
factor that reads the observed answer has one more, last axis: the target index of its group,
so that an example's factor is ``table[..., target]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Factor:
    """A 0/1 table over the variables ``scope`` (and, when ``group`` is set, that answer
    group's target index on its last axis)."""

    scope: tuple[int, ...]
    table: np.ndarray
    group: int | None = None


@dataclass(frozen=True)
class FactorGraph:
    """Variables (their domain sizes: the ``symbols`` neural ones first) and factors."""

    sizes: tuple[int, ...]
    factors: tuple[Factor, ...]
    symbols: int

    def is_tree(self) -> bool:
        """Whether the graph has no cycle (then belief propagation is exact)."""
        nodes = len(self.sizes) + len(self.factors)
        edges = sum(len(f.scope) for f in self.factors)
        parent = list(range(nodes))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for f, factor in enumerate(self.factors):
            for v in factor.scope:
                a, b = root(len(self.sizes) + f), root(v)
                if a == b:
                    return False
                parent[a] = b
        return edges < nodes
