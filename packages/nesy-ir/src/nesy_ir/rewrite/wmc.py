"""Weighted model counting in one step: a chain of aggregations over a d-DNNF (Darwiche 2002).

  sum_X1 ... sum_Xn  tau(F) * w1[X1] * ... * wn[Xn]  ->  F with X_i's literals replaced by
  w_i[true] / w_i[false], (+) and (x) kept, and the variables a (+) child misses multiplied in
  as (w[true] + w[false]) (or left out where the labels are normalised).

Exact when F is decomposable and, unless tau commutes with (+) unconditionally, deterministic;
both are checked. This is the granular rules of :mod:`.aggregation` applied to a whole chain at
once, linear in the size of F instead of linear per variable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

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
        self.seen = self.weighty = 0  # bit sets: variables whose total is known, not neutral
        self.done: dict[Node, tuple[Node, int]] = {}
        self.neutral = {r: _const(self.algebra, structure, r == "times") for r in ("plus", "times")}
        self.absorbing = {  # zero for (x), one for (+), where the structure declares them
            r: _const(self.algebra, structure, r == "plus")
            for r in ("plus", "times")
            if self.algebra.has(f"{r}.absorbing")
        }
        #: Whether counting a d-DNNF is exact: tau maps literals to indicators and commutes
        #: with a (+) of exclusive operands.
        self.exact = self.tau.indicator and self.tau.homomorphism.get("plus") in PLUS_EXACT

    def __call__(self, formula: Node, over: Iterable[str] | None = None) -> Node | None:
        """The count of the Boolean ``formula`` summed over the variables ``over`` (all of them
        by default; they must include every weighted variable the formula mentions); None when
        the formula is not a d-DNNF whose literals tau maps to indicators.

        Two passes over the nodes not counted before (check it is a d-DNNF, count): time linear
        in their edges, plus one factor per variable a (+) operand misses whose total is not
        neutral (none for normalised labels); variables are bit sets, one word per 64.
        """
        if not self.exact or not _is_ddnnf(formula, self.tau.homomorphism["plus"], self.ctx):
            return None
        return self.finish(self._resolve(formula), over)

    def finish(self, counted: tuple[Node, int], over: Iterable[str] | None = None) -> Node:
        """The count of a counted d-DNNF, ``(value, its variables)``, summed over ``over``."""
        value, have = counted
        everything = (1 << len(self.names)) - 1
        want = everything if over is None else sum(self.bit[x] for x in set(over))
        return self.smoothed(value, want & ~have)

    def leaf(self, g: Node) -> tuple[Node, int]:
        """(value, variables) of a literal or constant of a d-DNNF: a weighted variable's literal
        is its weight, another literal stays an indicator."""
        lit = literal(g)
        if lit is not None and lit[0] in self.bit:
            return self.weight(*lit), self.bit[lit[0]]
        if g.kind is Kind.CONST:
            return _const(self.algebra, self.s, g.arg), 0
        return Node(Kind.TRANSFORM, self.s, "bool", (g,)), 0

    def combine(self, role: str, parts: list[tuple[Node, int]]) -> tuple[Node, int]:
        """(value, variables) of a (+) or (x) of counted operands: each operand of a (+)
        multiplied by the totals of the variables it misses (smoothing)."""
        have = 0
        for _, vs in parts:
            have |= vs
        if role == "plus":
            kids = [self.smoothed(v, have ^ vs) for v, vs in parts]  # vs is in have
        else:
            kids = [v for v, _ in parts]
        return self.op(role, kids), have

    def weight(self, x: str, value: bool) -> Node:
        """The weights of ``x = value``, label slots the context fixes written as constants."""
        ws = [substitute(w, {x: value}) for w in self.weights.get(x, [])]
        return self.op("times", [self.ctx.fixed.get(w, w) for w in ws])

    def op(self, role: str, kids: list[Node]) -> Node:
        """The (+) or (x) of ``kids`` without its neutral constants, or its absorbing constant
        where a kid is that (0 * x: an unsatisfiable part is not smoothed): built small, not
        simplified afterwards."""
        absorbing = self.absorbing.get(role)
        if absorbing is not None and absorbing in kids:  # nodes compare by identity
            return absorbing
        neutral = self.neutral[role]
        if neutral in kids:
            kids = [k for k in kids if k is not neutral]
        return fold(role, kids, self.s)

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
        """``value`` times the totals of the variables in the bit set ``missing``: one factor
        per variable whose total is not neutral (the others cost one bit operation)."""
        if unseen := missing & ~self.seen:
            self.seen |= unseen
            weighty = (x for x in self._variables(unseen) if self.total(x) is not None)
            self.weighty |= sum(self.bit[x] for x in weighty)
        if not missing & self.weighty:
            return value
        extra = [self.totals[x] for x in self._variables(missing & self.weighty)]
        return self.op("times", [value, *extra])

    def _variables(self, bits: int) -> Iterator[str]:
        """The variables in the bit set ``bits``, lowest bit first."""
        while bits:
            low = bits & -bits
            bits ^= low
            yield self.names[low.bit_length() - 1]

    def _resolve(self, formula: Node) -> tuple[Node, int]:
        done = self.done
        for g in postorder([formula], skip=done):
            if g.kind is Kind.APPLY and g.arg != "neg":  # _is_ddnnf: negation on literals only
                done[g] = self.combine(g.arg, [done[c] for c in g.children])
            else:
                done[g] = self.leaf(g)
        return done[formula]


def _const(algebra, s: str, truth: bool) -> Node:
    return Node(
        Kind.CONST, s, algebra.carrier.coerce(algebra.one if truth else algebra.zero).item()
    )


_NOT_DDNNF = -1
#: The conditions under which tau commutes with (+) that make counting a d-DNNF exact.
PLUS_EXACT = ("always", "deterministic")


def _is_ddnnf(formula: Node, plus_condition: str | None, ctx: Context) -> bool:
    """Decomposable (checked with each node's variables as a bit set) and, where tau needs it,
    deterministic (checked by the context); each node checked once per context (ctx.memo)."""
    if plus_condition not in PLUS_EXACT:
        return False
    keys: dict[Node, int] = ctx.memo.setdefault(("ddnnf", plus_condition), {})
    bits: dict = ctx.memo.setdefault(("ddnnf bits",), {})
    for g in postorder([formula], skip=keys):
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
