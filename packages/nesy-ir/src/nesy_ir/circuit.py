"""Algebraic circuits (the DeepLog paper, sec. 6): hash-consed DAGs of n-ary (+)/(x) nodes.

Leaves are label slots (atoms with a constant or no reification) and constants. Transformation
nodes join sub-circuits of different structures (composition, sec. 6.2). Negation is pushed to
the leaves where the structure obeys De Morgan's laws; elsewhere (probability: 1 - x) it stays a
unary node, an extension of the source's two-operation circuits. A circuit may have several roots.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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
        for node in reversed(postorder(roots)):  # outermost problem first
            problem = circuit_problem(node)
            if problem:
                raise CircuitError(f"not a circuit: {problem}")
        object.__setattr__(self, "roots", roots)
        object.__setattr__(self, "names", names)

    def nodes(self) -> list[Node]:
        """All nodes, children first."""
        return postorder(self.roots)

    def stats(self) -> dict[str, int]:
        """Sizes: nodes, edges, leaves, (+) and (x) nodes, transformations, depth."""
        order = self.nodes()
        depth: dict[int, int] = {}
        for n in order:
            depth[id(n)] = 0 if is_leaf(n) else 1 + max(depth[id(c)] for c in n.children)
        return {
            "nodes": len(order),
            "edges": sum(len(n.children) for n in order),
            "leaves": sum(is_leaf(n) and not n.is_op("neg") for n in order),
            "plus": sum(n.is_op("plus") for n in order),
            "times": sum(n.is_op("times") for n in order),
            "transform": sum(n.kind is Kind.TRANSFORM for n in order),
            "depth": max((depth[id(r)] for r in self.roots), default=0),
        }
