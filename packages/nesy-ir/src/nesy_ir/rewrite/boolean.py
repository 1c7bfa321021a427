"""Compiling small Boolean sub-formulas into decision d-DNNF by Shannon expansion.

General Boolean formulas are compiled with PySDD by nesy-compile; this handles the Boolean parts
that are small enough to expand (at most ``Context.max_vars`` variables), so that a
transformation needing determinism can be pushed to the leaves.
"""

from __future__ import annotations

from collections.abc import Hashable

from ..nodes import Kind, Node
from ..properties import bool_key, bool_keys, is_ddnnf
from ..registry import get_transformation
from .engine import Context, Rule, RuleSet

A, C = Kind.APPLY, Kind.CONST
TRUE, FALSE = Node(C, "bool", True), Node(C, "bool", False)


def _op(role: str, children: list[Node]) -> Node:
    """Boolean and/or with constants folded away."""
    absorbing, neutral = (TRUE, FALSE) if role == "plus" else (FALSE, TRUE)
    if absorbing in children:
        return absorbing
    kept = list(dict.fromkeys(c for c in children if c is not neutral))
    if not kept:
        return neutral
    return kept[0] if len(kept) == 1 else Node(A, "bool", role, tuple(kept))


def condition(node: Node, key: Hashable, value: bool, memo: dict) -> Node:
    """``node`` with Boolean variable ``key`` set to ``value``, constants folded."""
    hit = memo.get(node)
    if hit is not None:
        return hit
    if node.kind is Kind.ATOM:
        out = (TRUE if value else FALSE) if bool_key(node) == key else node
    elif node.kind is C:
        out = node
    elif node.is_op("neg"):
        inner = condition(node.children[0], key, value, memo)
        out = {TRUE: FALSE, FALSE: TRUE}.get(inner) or Node(A, "bool", "neg", (inner,))
    else:
        out = _op(node.arg, [condition(c, key, value, memo) for c in node.children])
    memo[node] = out
    return out


def shannon(node: Node) -> Node:
    """A decision d-DNNF equal to the quantifier-free Boolean formula ``node``."""
    order = bool_keys([node])
    rank = {k: i for i, k in enumerate(order)}
    literal_of = {}
    for n in _atoms(node):
        literal_of.setdefault(bool_key(n), n)
    memo: dict[Node, Node] = {}

    def go(f: Node) -> Node:
        if f.kind is C:
            return f
        if f in memo:
            return memo[f]
        key = min(bool_keys([f]), key=rank.__getitem__)
        lit = literal_of[key]
        hi = go(condition(f, key, True, {}))
        lo = go(condition(f, key, False, {}))
        if hi is lo:
            out = hi
        else:
            neg = Node(A, "bool", "neg", (lit,))
            out = _op("plus", [_op("times", [lit, hi]), _op("times", [neg, lo])])
        memo[f] = out
        return out

    return go(node)


def _atoms(node: Node) -> list[Node]:
    from ..traverse import atoms

    return [a for a in atoms([node]) if not isinstance(a.arg.rvar, bool)]


def _expandable(node: Node, ctx: Context) -> bool:
    from ..traverse import postorder

    nodes = postorder([node])
    if any(n.kind not in (Kind.ATOM, C, A) for n in nodes):
        return False
    return len(bool_keys([node])) <= ctx.max_vars


def compile_under_transform(n: Node, ctx: Context) -> Node | None:
    # tau(f) -> tau(shannon(f)) when tau needs determinism and f is not yet a d-DNNF
    t = get_transformation(n.arg, n.structure)
    child = n.children[0]
    if n.arg != "bool" or t.homomorphism.get("plus") != "deterministic":
        return None
    if (
        child.kind is not A
        or not _expandable(child, ctx)
        or is_ddnnf(child, ctx.max_vars, ctx.exclusive)
    ):
        return None
    compiled = shannon(child)
    return None if compiled is child else n.with_children([compiled])


BOOLEAN = RuleSet(
    "boolean",
    (
        Rule(
            "compile_small_boolean",
            Kind.TRANSFORM,
            compile_under_transform,
            doc="tau(a + b) -> tau(a + ~a*b)  (Shannon expansion into decision d-DNNF)",
        ),
    ),
)
