"""Pushing transformations through (+) and (x) towards the leaves (the DeepLog paper, sec. 6.3.1).

tau(a op b) = tau(a) op' tau(b) holds where the transformation declares a homomorphism for
``op``; when it declares one only under determinism or decomposability, that property of the
operands is checked first.
"""

from __future__ import annotations

from ..nodes import Kind, Node
from ..properties import decomposable
from ..registry import get_transformation
from .engine import Context, Rule, RuleSet


def _condition_holds(condition: str | None, node: Node, ctx: Context) -> bool:
    if condition == "always":
        return True
    if condition == "deterministic":
        return node.structure == "bool" and ctx.is_deterministic(node) is True
    if condition == "decomposable":
        return decomposable(node)
    return False


def push_transform(n: Node, ctx: Context) -> Node | None:
    # tau(a + b) -> tau(a) + tau(b) ; tau(a * b) -> tau(a) * tau(b)
    child = n.children[0]
    if child.kind is not Kind.APPLY or child.arg == "neg":
        return None
    t = get_transformation(n.arg, n.structure)
    if not _condition_holds(t.homomorphism.get(child.arg), child, ctx):
        return None
    pushed = tuple(Node(Kind.TRANSFORM, n.structure, n.arg, (c,)) for c in child.children)
    return Node(Kind.APPLY, n.structure, child.arg, pushed)


PUSH = RuleSet(
    "push",
    (
        Rule(
            "push_transform",
            Kind.TRANSFORM,
            push_transform,
            doc="tau(a + b) -> tau(a) + tau(b) (determinism); tau(a * b) -> tau(a) * tau(b)",
        ),
    ),
)
