"""Algebraic circuits (the DeepLog paper, sec. 6): hash-consed DAGs of n-ary (+)/(x) nodes.

Leaves are label slots (atoms with a constant or no reification) and constants. Transformation
nodes join sub-circuits of different structures (composition, sec. 6.2). Negation is pushed to
the leaves where the structure obeys De Morgan's laws; elsewhere (probability: 1 - x) it stays a
unary node, an extension of the source's two-operation circuits. A circuit may have several roots.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from .errors import CircuitError
from .nodes import Kind, Node
from .terms import Var
from .traverse import postorder


def is_leaf(node: Node) -> bool:
    """A label slot, a constant, or the negation of a label slot."""
    if node.is_op("neg"):
        node = node.children[0]
    if node.kind is Kind.CONST:
        return True
    return node.kind is Kind.ATOM and not isinstance(node.arg.rvar, Var)


def circuit_problem(node: Node) -> str | None:
    """Why ``node`` cannot stand in a circuit, or None."""
    if node.kind is Kind.AGG:
        return f"aggregation over {node.arg.var} (rewrite or expand it first)"
    if node.kind is Kind.ATOM and isinstance(node.arg.rvar, Var):
        return f"free reification variable {node.arg.rvar.name} in atom {node}"
    return None


@dataclass(frozen=True)
class Circuit:
    """A validated algebraic circuit: its roots and a name for each root."""

    roots: tuple[Node, ...]
    names: tuple[str, ...]

    def __init__(self, roots: Node | Iterable[Node], names: Sequence[str] | None = None):
        roots = (roots,) if isinstance(roots, Node) else tuple(roots)
        names = tuple(names) if names is not None else tuple(f"root{i}" for i in range(len(roots)))
        if len(names) != len(roots):
            raise CircuitError(f"{len(roots)} roots but {len(names)} names")
        object.__setattr__(self, "roots", roots)
        object.__setattr__(self, "names", names)
        for node in reversed(self._order):  # outermost problem first
            problem = circuit_problem(node)
            if problem:
                raise CircuitError(f"not a circuit: {problem}")

    @cached_property
    def _order(self) -> list[Node]:
        return postorder(self.roots)

    def nodes(self) -> list[Node]:
        """All nodes, children first."""
        return list(self._order)

    def stats(self) -> dict[str, int]:
        """Sizes: nodes, edges, leaves, (+) and (x) nodes, transformations, depth."""
        order = self._order
        depth: dict[Node, int] = {}
        roles = Counter(n.arg for n in order if n.kind is Kind.APPLY)
        leaves = 0
        for n in order:
            if is_leaf(n):
                depth[n] = 0
                leaves += not n.is_op("neg")
            else:
                depth[n] = 1 + max(map(depth.__getitem__, n.children))
        return {
            "nodes": len(order),
            "edges": sum(len(n.children) for n in order),
            "leaves": leaves,
            "plus": roles["plus"],
            "times": roles["times"],
            "transform": sum(n.kind is Kind.TRANSFORM for n in order),
            "depth": max((depth[r] for r in self.roots), default=0),
        }
