"""Weighted model counting in one step: a chain of aggregations over a d-DNNF (Darwiche 2002).

  sum_X1 ... sum_Xn  tau(F) * w1[X1] * ... * wn[Xn]  ->  F with X_i's literals replaced by
  w_i[true] / w_i[false], (+) and (x) kept, and the variables a (+) child misses multiplied in
  as (w[true] + w[false]) (or left out where the labels are normalised).

Exact when F is decomposable and, unless tau commutes with (+) unconditionally, deterministic;
both are checked. This is the granular rules of :mod:`.aggregation` applied to a whole chain at
once, linear in the size of F instead of linear per variable.
"""

from __future__ import annotations

from ..laws import SEMIRING
from ..nodes import Kind, Node, fold
from ..properties import bool_key, literal
from ..registry import get_algebra, get_transformation
from ..terms import BOOL_DOMAIN, Var
from ..traverse import postorder, substitute
from .engine import Context, Rule, RuleSet


def _chain(n: Node) -> tuple[list[str], Node]:
    """The variables of nested Boolean (+) aggregations and the innermost body."""
    names = []
    while n.kind is Kind.AGG and n.arg.role == "plus" and n.arg.domain == BOOL_DOMAIN:
        names.append(n.arg.var)
        n = n.children[0]
    return names, n


def _weight_var(f: Node, names: set[str]) -> str | None:
    """X when ``f`` is a non-Boolean atom reified by aggregated X whose arguments avoid them."""
    if f.kind is not Kind.ATOM or f.structure == "bool" or not isinstance(f.arg.rvar, Var):
        return None
    x = f.arg.rvar.name
    return x if x in names and not (f.free - {x}) & names else None


def resolve_wmc(n: Node, ctx: Context) -> Node | None:
    # sum_X.. tau(F) * w[X].. -> F[lit -> w[lit]]  (F a d-DNNF; see the module docstring)
    names, body = _chain(n)
    agg = set(names)
    factors = body.children if body.is_op("times") else (body,)
    logic = [f for f in factors if f.kind is Kind.TRANSFORM and f.arg == "bool" and f.free & agg]
    weights: dict[str, list[Node]] = {}
    outside = []
    for f in factors:
        if f in logic:
            continue
        x = _weight_var(f, agg)
        if x is not None:
            weights.setdefault(x, []).append(f)
        elif f.free & agg:
            return None
        else:
            outside.append(f)
    if len(logic) != 1:
        return None
    tau = get_transformation("bool", n.structure)
    formula = logic[0].children[0]
    if not tau.indicator or not _is_ddnnf(formula, tau.homomorphism.get("plus"), ctx):
        return None
    s = n.structure
    algebra = get_algebra(s)

    def weight(x: str, value: bool) -> Node:
        return substitute(fold("times", weights.get(x, []), s), {x: value})

    def total(x: str) -> Node | None:
        """sum_X w[X]; None when it is the neutral element (normalised labels)."""
        ws = weights.get(x, [])
        if not ws and algebra.has("plus.idempotent"):
            return None
        if len(ws) == 1 and ctx.normalised(ws[0].arg.predicate, s):
            return None
        return Node(Kind.APPLY, s, "plus", (weight(x, True), weight(x, False)))

    def smoothed(value: Node, have: frozenset, want: frozenset) -> Node:
        extra = [t for x in sorted(want - have) if (t := total(x)) is not None]
        return fold("times", [value, *extra], s) if extra else value

    done: dict[Node, tuple[Node, frozenset]] = {}
    for g in postorder([formula]):
        lit = literal(g)
        if lit is not None and lit[0] in agg:
            done[g] = (weight(lit[0], lit[1]), frozenset([lit[0]]))
        elif g.kind is Kind.CONST:
            done[g] = (_const(algebra, s, g.arg), frozenset())
        elif lit is not None or g.kind is Kind.ATOM:  # other literals stay indicators
            done[g] = (Node(Kind.TRANSFORM, s, "bool", (g,)), frozenset())
        else:  # (+) or (x): _is_ddnnf allows negation on literals only
            parts = [done[c] for c in g.children]
            have = frozenset().union(*(v for _, v in parts))
            kids = [smoothed(v, vs, have) if g.arg == "plus" else v for v, vs in parts]
            done[g] = (Node(Kind.APPLY, s, g.arg, tuple(kids)), have)
    value, have = done[formula]
    value = smoothed(value, have, frozenset(agg))
    return fold("times", [*outside, value], s)


def _const(algebra, s: str, truth: bool) -> Node:
    return Node(
        Kind.CONST, s, algebra.carrier.coerce(algebra.one if truth else algebra.zero).item()
    )


def _is_ddnnf(formula: Node, plus_condition: str | None, ctx: Context) -> bool:
    """Decomposable (checked with each node's variables, computed once) and, where tau needs it,
    deterministic (checked by :func:`~nesy_ir.properties.deterministic`)."""
    if plus_condition not in ("always", "deterministic"):
        return False
    keys: dict[Node, frozenset] = {}
    for g in postorder([formula]):
        if g.kind is Kind.ATOM:
            keys[g] = frozenset([bool_key(g)]) if not isinstance(g.arg.rvar, bool) else frozenset()
            continue
        if g.kind is Kind.CONST:
            keys[g] = frozenset()
            continue
        if g.kind is not Kind.APPLY or (g.is_op("neg") and literal(g) is None):
            return False
        parts = [keys[c] for c in g.children]
        keys[g] = frozenset().union(*parts)
        if g.is_op("times") and sum(map(len, parts)) != len(keys[g]):
            return False
        if (
            g.is_op("plus")
            and plus_condition == "deterministic"
            and ctx.is_deterministic(g) is not True
        ):
            return False
    return True


WMC = RuleSet(
    "wmc",
    (
        Rule(
            "resolve_wmc",
            Kind.AGG,
            resolve_wmc,
            "plus",
            tuple(sorted(SEMIRING)),
            "sum_X.. tau(F) * w[X].. -> F with literals replaced by weights (F a d-DNNF)",
            before_children=True,
        ),
    ),
)
