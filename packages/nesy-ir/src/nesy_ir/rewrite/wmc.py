"""Weighted model counting in one step: a chain of aggregations over a d-DNNF (Darwiche 2002).

  sum_X1 ... sum_Xn  tau(F) * w1[X1] * ... * wn[Xn]  ->  F with X_i's literals replaced by
  w_i[true] / w_i[false], (+) and (x) kept, and the variables a (+) child misses multiplied in
  as (w[true] + w[false]) (or left out where the labels are normalised).

Exact when F is decomposable and, unless tau commutes with (+) unconditionally, deterministic;
both are checked. This is the granular rules of :mod:`.aggregation` applied to a whole chain at
once, linear in the size of F instead of linear per variable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ..laws import SEMIRING
from ..nodes import Kind, Node, fold
from ..properties import bool_key, literal
from ..registry import get_algebra, get_transformation
from ..terms import BOOL_DOMAIN, Var
from ..traverse import substitute
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
    # Sub-formulas are resolved once per structure, weights and variables (ctx.memo): queries
    # over one shared d-DNNF with the same chain of aggregations share the work.
    key = (n.structure, tuple((x, tuple(ws)) for x, ws in sorted(weights.items())), *sorted(agg))
    count = ctx.memo.get(("resolve_wmc", key))
    if count is None:
        count = ctx.memo["resolve_wmc", key] = WeightedCount(
            n.structure, {x: weights.get(x, ()) for x in agg}, ctx
        )
    value = count(logic[0].children[0])
    return None if value is None else fold("times", [*outside, value], n.structure)


class WeightedCount:
    """``sum_X1 .. sum_Xn tau[bool->S](F) * w1[X1] * .. * wn[Xn]`` of d-DNNFs F, in one step.

    ``weights`` maps every variable summed over to its weight atoms (``w[X]@S``, reified by
    it; none for a variable weighed one). Calling it on F returns F with the literals of those
    variables replaced by their weights, (+) and (x) kept, and the variables a (+) operand
    misses multiplied in as ``w[true] + w[false]`` (left out where the labels are normalised);
    label slots that ``ctx.fixed`` fixes are written as constants, neutral ones left out. Each
    node's value and variables (a bit set) are remembered, so d-DNNFs that share nodes (the
    queries of one compiled program) share the work.
    """

    def __init__(self, structure: str, weights: Mapping[str, Sequence[Node]], ctx: Context):
        self.s, self.algebra, self.ctx = structure, get_algebra(structure), ctx
        self.tau = get_transformation("bool", structure)
        self.names = sorted(weights)
        self.weights = weights
        self.bit = {x: 1 << i for i, x in enumerate(self.names)}  # bits in sorted-name order
        self.totals: dict[str, Node | None] = {}
        self.done: dict[Node, tuple[Node, int]] = {}
        self.neutral = {r: _const(self.algebra, structure, r == "times") for r in ("plus", "times")}

    def __call__(self, formula: Node, over: Iterable[str] | None = None) -> Node | None:
        """The count of the Boolean ``formula`` summed over the variables ``over`` (all of them
        by default; they must include every weighted variable the formula mentions); None when
        the formula is not a d-DNNF whose literals tau maps to indicators."""
        plus = self.tau.homomorphism.get("plus")
        if not self.tau.indicator or not _is_ddnnf(formula, plus, self.ctx):
            return None
        value, have = self._resolve(formula)
        everything = (1 << len(self.names)) - 1
        want = everything if over is None else sum(self.bit[x] for x in set(over))
        return self.smoothed(value, want & ~have)

    def weight(self, x: str, value: bool) -> Node:
        """The weights of ``x = value``, label slots the context fixes written as constants."""
        ws = [substitute(w, {x: value}) for w in self.weights.get(x, [])]
        return self.op("times", [self.ctx.fixed.get(w, w) for w in ws])

    def op(self, role: str, kids: list[Node]) -> Node:
        """The (+) or (x) of ``kids`` without its neutral constants: built small, not simplified
        afterwards."""
        neutral = self.neutral[role]
        return fold(role, [k for k in kids if k is not neutral], self.s)

    def total(self, x: str) -> Node | None:
        """sum_X w[X]; None when it is the neutral element (normalised labels)."""
        if x not in self.totals:
            ws, out = self.weights.get(x, []), None
            if ws or not self.algebra.has("plus.idempotent"):
                if not (len(ws) == 1 and self.ctx.normalised(ws[0].arg.predicate, self.s)):
                    out = self.op("plus", [self.weight(x, True), self.weight(x, False)])
            self.totals[x] = out
        return self.totals[x]

    def smoothed(self, value: Node, missing: int) -> Node:
        """``value`` times the totals of the variables in the bit set ``missing``."""
        extra = []
        while missing:
            low = missing & -missing
            missing ^= low
            if (t := self.total(self.names[low.bit_length() - 1])) is not None:
                extra.append(t)
        return self.op("times", [value, *extra]) if extra else value

    def _resolve(self, formula: Node) -> tuple[Node, int]:
        done, s = self.done, self.s
        for g in _unseen_postorder(formula, done):
            lit = literal(g)
            if lit is not None and lit[0] in self.bit:
                done[g] = (self.weight(lit[0], lit[1]), self.bit[lit[0]])
            elif g.kind is Kind.CONST:
                done[g] = (_const(self.algebra, s, g.arg), 0)
            elif lit is not None or g.kind is Kind.ATOM:  # other literals stay indicators
                done[g] = (Node(Kind.TRANSFORM, s, "bool", (g,)), 0)
            else:  # (+) or (x): _is_ddnnf allows negation on literals only
                parts = [done[c] for c in g.children]
                have = 0
                for _, vs in parts:
                    have |= vs
                if g.arg == "plus":
                    kids = [self.smoothed(v, have & ~vs) for v, vs in parts]
                else:
                    kids = [v for v, _ in parts]
                done[g] = (self.op(g.arg, kids), have)
        return done[formula]


def _unseen_postorder(root: Node, seen: dict) -> list[Node]:
    """The nodes below ``root`` not in ``seen`` (nor below one that is), children first."""
    order: list[Node] = []
    visited: set[Node] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif node not in seen and node not in visited:
            visited.add(node)
            stack.append((node, True))
            stack.extend((c, False) for c in node.children if c not in seen and c not in visited)
    return order


def _const(algebra, s: str, truth: bool) -> Node:
    return Node(
        Kind.CONST, s, algebra.carrier.coerce(algebra.one if truth else algebra.zero).item()
    )


_NOT_DDNNF = -1


def _is_ddnnf(formula: Node, plus_condition: str | None, ctx: Context) -> bool:
    """Decomposable (checked with each node's variables as a bit set) and, where tau needs it,
    deterministic (checked by the context); each node checked once per context (ctx.memo)."""
    if plus_condition not in ("always", "deterministic"):
        return False
    keys: dict[Node, int] = ctx.memo.setdefault(("ddnnf", plus_condition), {})
    bits: dict = ctx.memo.setdefault(("ddnnf bits",), {})
    for g in _unseen_postorder(formula, keys):
        if g.kind is Kind.ATOM:
            if isinstance(g.arg.rvar, bool):
                keys[g] = 0
            else:
                keys[g] = bits.setdefault(bool_key(g), 1 << len(bits))
            continue
        if g.kind is Kind.CONST:
            keys[g] = 0
            continue
        parts = [keys[c] for c in g.children]
        if (
            g.kind is not Kind.APPLY
            or (g.is_op("neg") and literal(g) is None)
            or _NOT_DDNNF in parts
        ):
            keys[g] = _NOT_DDNNF
            continue
        have = 0
        for p in parts:
            have |= p
        keys[g] = have
        if g.is_op("times") and sum(p.bit_count() for p in parts) != have.bit_count():
            keys[g] = _NOT_DDNNF
        elif (
            g.is_op("plus")
            and plus_condition == "deterministic"
            and ctx.is_deterministic(g) is not True
        ):
            keys[g] = _NOT_DDNNF
    return keys[formula] != _NOT_DDNNF


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
