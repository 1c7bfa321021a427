"""Merging an operand into its parents of the same associative operation where no edge is copied.

``(a (x) b) (x) c -> a (x) b (x) c`` removes a node; when the inner node is shared by r parents
and has k operands, the merge replaces k + r edges by r * k, so it is done only where that is no
more: one parent, or two parents and two operands; never for a root, which stays a node. Unlike
the ``flatten`` rules (local, so they copy a shared operand into every parent), this sees the
whole DAG: the result has no more nodes and no more edges than its input. Used on circuits
built in one pass from a compiled d-DNNF.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..nodes import Kind, Node
from ..registry import get_algebra
from ..traverse import postorder

ASSOCIATIVE = ("plus", "times")  # the roles merged, where the structure declares them associative


def merge_unshared(roots: Iterable[Node]) -> tuple[Node, ...]:
    """``roots`` with each (+) or (x) operand merged into its parents of the same associative
    operation where that copies no edge (see the module docstring).

    Two passes over the DAG (count parents, rebuild children first): time linear in its nodes
    and edges.
    """
    roots = tuple(roots)
    kept = set(roots)  # a root stays a node: merging it would copy its operands
    order = postorder(roots)
    parents = Counter(c for n in order for c in n.children)
    laws: dict[tuple[str, str], bool] = {}  # (structure, role) -> associative? asked once

    def merges(n: Node) -> bool:
        if n.kind is not Kind.APPLY or n.arg not in ASSOCIATIVE:
            return False
        key = (n.structure, n.arg)
        if key not in laws:
            laws[key] = get_algebra(n.structure).has(f"{n.arg}.associative")
        return laws[key]

    done: dict[Node, Node] = {}
    for n in order:
        if not n.children:
            done[n] = n
        elif not merges(n):
            done[n] = n.with_children([done[c] for c in n.children])
        else:
            kids: list[Node] = []
            for c in n.children:
                m = done[c]
                if (
                    m.is_op(n.arg)
                    and c not in kept
                    and (parents[c] - 1) * (len(m.children) - 1) <= 1
                ):
                    kids.extend(m.children)
                else:
                    kids.append(m)
            done[n] = n.with_children(kids)
    return tuple(done[r] for r in roots)
