"""Rewriting aggregation: pushing it inwards and resolving it (the DeepLog paper, eqs. 11-12).

For an aggregation that folds (+) over a structure where (x) distributes over (+):
split over sums, pull out factors that do not mention the variable, distribute when two
factors mention it, resolve it against a Boolean indicator of the variable, and remove it
over a normalised label. ``expand`` enumerates the domain (the last resort, for lowering).
"""

from __future__ import annotations

from ..nodes import Kind, Node, fold
from ..registry import get_algebra, get_transformation
from ..terms import BOOL_DOMAIN, Var, domain_values
from ..traverse import substitute
from .engine import Context, Rule, RuleSet

A = Kind.APPLY


def _agg(n: Node, body: Node) -> Node:
    return Node(Kind.AGG, n.structure, n.arg, (body,))


def _repeat(n: Node, c: Node) -> Node:
    """The aggregation of a body that does not mention the variable: c (+) ... (+) c."""
    if get_algebra(n.structure).has("plus.idempotent"):
        return c
    return fold("plus", [c] * len(domain_values(n.arg.domain)), n.structure)


def split(n: Node, ctx: Context) -> Node | None:
    # sum_X (a + b) -> sum_X a + sum_X b
    body, x = n.children[0], n.arg.var
    if not body.is_op("plus"):
        return None
    parts = [_agg(n, c) if x in c.free else _repeat(n, c) for c in body.children]
    return Node(A, n.structure, "plus", tuple(parts))


def pull_out(n: Node, ctx: Context) -> Node | None:
    # sum_X (a * f(X)) -> a * sum_X f(X)
    body, x = n.children[0], n.arg.var
    if not body.is_op("times"):
        return None
    outside = [c for c in body.children if x not in c.free]
    inside = [c for c in body.children if x in c.free]
    if not outside:
        return None
    return Node(A, n.structure, "times", (*outside, _agg(n, fold("times", inside, n.structure))))


def distribute(n: Node, ctx: Context) -> Node | None:
    # sum_X ((a + b) * f(X)) -> sum_X (a * f(X) + b * f(X))   (every factor mentions X)
    body = n.children[0]
    if not body.is_op("times"):
        return None
    sums = [c for c in body.children if c.is_op("plus")]
    if not sums:
        return None
    s = sums[0]
    others = list(body.children)
    others.remove(s)  # one occurrence: the same sum may be a factor twice
    terms = tuple(Node(A, n.structure, "times", (t, *others)) for t in s.children)
    return _agg(n, Node(A, n.structure, "plus", terms))


def _indicator_value(factor: Node, x: str, structure: str) -> bool | None:
    """v when ``factor`` is the indicator [X = v] (a reified Boolean literal, maybe under tau)."""
    if factor.kind is Kind.TRANSFORM:
        if factor.arg != "bool" or not get_transformation("bool", structure).indicator:
            return None
        factor = factor.children[0]
    elif structure != "bool":
        return None
    positive = True
    if factor.is_op("neg"):
        factor, positive = factor.children[0], False
    if factor.kind is not Kind.ATOM or factor.structure != "bool":
        return None
    rvar = factor.arg.rvar
    return positive if isinstance(rvar, Var) and rvar.name == x else None


def resolve_indicator(n: Node, ctx: Context) -> Node | None:
    # sum_X tau([a = X]) * f(X) -> f(true) ; sum_X tau(~[a = X]) * f(X) -> f(false)
    if n.arg.domain != BOOL_DOMAIN:
        return None
    body, x = n.children[0], n.arg.var
    factors = body.children if body.is_op("times") else (body,)
    for i, f in enumerate(factors):
        value = _indicator_value(f, x, n.structure)
        if value is not None:
            rest = fold("times", factors[:i] + factors[i + 1 :], n.structure)
            return substitute(rest, {x: value})
    return None


def normalised(n: Node, ctx: Context) -> Node | None:
    # sum_X w[X] -> 1 when the labels of w over its truth values form a distribution
    body, x = n.children[0], n.arg.var
    if n.arg.domain != BOOL_DOMAIN or body.kind is not Kind.ATOM or body.structure == "bool":
        return None
    a = body.arg
    if not (isinstance(a.rvar, Var) and a.rvar.name == x) or x in {
        t.name for t in a.args if isinstance(t, Var)
    }:
        return None
    if not ctx.normalised(a.predicate, body.structure):
        return None
    algebra = get_algebra(n.structure)
    return Node(Kind.CONST, n.structure, algebra.carrier.coerce(algebra.one).item())


def expand(n: Node, ctx: Context) -> Node | None:
    # agg_X f(X) -> f(v1) op f(v2) op ...  (enumerate the domain)
    body, arg = n.children[0], n.arg
    terms = [substitute(body, {arg.var: v}) for v in domain_values(arg.domain)]
    return fold(arg.role, terms, n.structure)


SEMIRING_AGG = (
    "plus.associative",
    "plus.commutative",
    "times.associative",
    "times.commutative",
    "times.distributes",
)
G = Kind.AGG

AGGREGATE = RuleSet(
    "aggregate",
    (
        Rule("agg_normalised", G, normalised, "plus", ("plus.neutral",), "sum_X w[X] -> 1"),
        Rule(
            "agg_resolve_indicator",
            G,
            resolve_indicator,
            "plus",
            ("plus.neutral", "times.neutral", "times.absorbing"),
            "sum_X tau([a = X]) * f(X) -> f(true)",
        ),
        Rule("agg_pull_out", G, pull_out, "plus", SEMIRING_AGG, "sum_X a * f(X) -> a * sum_X f(X)"),
        Rule("agg_split", G, split, "plus", SEMIRING_AGG[:2], "sum_X (a + b) -> sum_X a + sum_X b"),
        Rule(
            "agg_distribute",
            G,
            distribute,
            "plus",
            SEMIRING_AGG,
            "sum_X (a + b) * f(X) -> sum_X (a * f(X) + b * f(X))",
        ),
    ),
)

EXPAND = RuleSet("expand", (Rule("agg_expand", G, expand, doc="agg_X f(X) -> f(v1) op f(v2)"),))
