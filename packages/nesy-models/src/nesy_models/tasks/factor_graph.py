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

    def leaves_first(self) -> list[int]:
        """The factors in an order where each comes after every factor beyond it from a root
        (a post-order of each tree of the graph, rooted at its last factor). Swept in this
        order and back, belief propagation on a tree is exact after one round (the two-pass
        schedule). O(variables + factors + their edges)."""
        around: list[list[int]] = [[] for _ in self.sizes]
        for f, factor in enumerate(self.factors):
            for v in factor.scope:
                around[v].append(f)
        seen, order = [False] * len(self.factors), []
        for root in reversed(range(len(self.factors))):
            if seen[root]:
                continue
            seen[root] = True
            stack = [(root, False)]
            while stack:  # depth first; a factor is placed once all beyond it are
                f, expanded = stack.pop()
                if expanded:
                    order.append(f)
                    continue
                stack.append((f, True))
                for v in self.factors[f].scope:
                    for g in around[v]:
                        if not seen[g]:
                            seen[g] = True
                            stack.append((g, False))
        return order
