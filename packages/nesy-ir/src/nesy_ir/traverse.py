"""Walking node DAGs: post-order, substitution of variables, sizes."""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from typing import Any

from .nodes import AtomArg, Kind, Node
from .terms import Var


def postorder(roots: Iterable[Node], skip: Container[Node] = ()) -> list[Node]:
    """Every node reachable from ``roots``, once, children before parents (iterative): the order
    of a recursive depth-first walk, first child first. Nodes in ``skip`` are left out, and so
    is what is reachable only through them (for passes that remember what they did). Time
    linear in the nodes and edges walked."""
    order: list[Node] = []
    seen: set[int] = set()
    for root in roots:
        if id(root) in seen or root in skip:
            continue
        seen.add(id(root))
        stack = [(root, iter(root.children))]
        while stack:
            node, children = stack[-1]
            for c in children:  # resumes where it left off: each edge looked at once
                if id(c) not in seen and c not in skip:
                    seen.add(id(c))
                    stack.append((c, iter(c.children)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def size(roots: Iterable[Node]) -> tuple[int, int]:
    """(nodes, edges) of the DAG below ``roots``, shared nodes counted once."""
    nodes = postorder(roots)
    return len(nodes), sum(len(n.children) for n in nodes)


def substitute(node: Node, values: Mapping[str, Any]) -> Node:
    """``node`` with the free variables in ``values`` replaced by those values."""
    memo: dict[tuple[int, frozenset], Node] = {}

    def go(n: Node, bound: frozenset) -> Node:
        active = n.free - bound
        if not active.intersection(values):
            return n
        key = (id(n), bound)
        if key in memo:
            return memo[key]
        if n.kind is Kind.ATOM:
            a = n.arg
            args = tuple(
                values[t.name]
                if isinstance(t, Var) and t.name in values and t.name not in bound
                else t
                for t in a.args
            )
            rvar = a.rvar
            if isinstance(rvar, Var) and rvar.name in values and rvar.name not in bound:
                rvar = values[rvar.name]
                if not isinstance(rvar, bool):
                    raise TypeError(
                        f"reification variable {a.rvar.name} of {a.predicate} takes a truth value,"
                        f" got {rvar!r}"
                    )
            out = Node(Kind.ATOM, n.structure, AtomArg(a.predicate, args, rvar))
        else:
            inner = bound | {n.arg.var} if n.kind is Kind.AGG else bound
            out = n.with_children(go(c, inner) for c in n.children)
        memo[key] = out
        return out

    return go(node, frozenset())


def atoms(roots: Iterable[Node]) -> list[Node]:
    """The distinct atoms below ``roots``."""
    return [n for n in postorder(roots) if n.kind is Kind.ATOM]
