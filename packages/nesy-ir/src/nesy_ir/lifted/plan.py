"""Lifted plans: a formula over whole domains turned into a short sequence of contraction steps
(see :mod:`nesy_ir.lifted`), with the lifting of each structure."""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from math import prod

from ..algebra import Algebra
from ..errors import NesyError
from ..nodes import Kind, Node
from ..registry import get_algebra
from ..terms import BOOL_DOMAIN, Var
from .smoothmax import SmoothMax


class LiftingError(NesyError):
    """A formula (or structure) the lifted path cannot evaluate without grounding."""


@dataclass(frozen=True)
class Lifting:
    """The pointwise (x) and the (+) reduction over axes, by kernel name, of one structure."""

    times: str
    plus: str
    temperature: float | None = None  # of the smooth maximum

    @property
    def einsum(self) -> bool:
        """Whether a step is one einsum (sum of products)."""
        return (self.times, self.plus) == ("multiply", "sum")

    @property
    def log_space(self) -> bool:
        """Whether values are logs, (x) is + and (+) is a temperature-scaled logsumexp
        (``logprob``, the smooth maximum): a pairwise step is then a shifted exp-einsum-log."""
        return self.times == "add" and self.plus in ("logsumexp", "smoothmax")

    @property
    def scale(self) -> float:
        """The temperature of a log-space reduction (1 for ``logprob``)."""
        return 1.0 if self.temperature is None else self.temperature


#: The lifting of each built-in structure by name (the smooth maximum is found by its (+)).
LIFTINGS: dict[str, Lifting] = {
    "prob": Lifting("multiply", "sum"),
    "real": Lifting("multiply", "sum"),
    "logprob": Lifting("add", "logsumexp"),
    "maxprod": Lifting("multiply", "max"),
    "godel": Lifting("minimum", "max"),
    "bool": Lifting("and", "any"),
    "product": Lifting("multiply", "prob_or"),
    "lukasiewicz": Lifting("luk_and", "luk_or"),
}

#: Laws every lifted plan relies on: factors and reductions are taken in any order.
NEEDED_LAWS = ("plus.associative", "plus.commutative", "times.associative", "times.commutative")


def lifting_of(algebra: Algebra) -> Lifting:
    """How ``algebra`` is lifted; a :class:`LiftingError` when it cannot be."""
    if isinstance(algebra.plus, SmoothMax):
        lifting = Lifting("add", "smoothmax", algebra.plus.temperature)
    else:
        lifting = LIFTINGS.get(algebra.name)
    if lifting is None:
        known = ", ".join(sorted(LIFTINGS))
        raise LiftingError(
            f"structure {algebra.name!r} has no lifted evaluation (lifted: {known}, smoothmax)"
        )
    missing = [law for law in NEEDED_LAWS if not algebra.has(law)]
    if missing:
        raise LiftingError(
            f"structure {algebra.name!r} does not declare {', '.join(missing)}:"
            " a lifted plan reduces axes in any order"
        )
    return lifting


# --- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Factor:
    """An input of the plan: the label tensor of ``predicate``, its axes after the batch axis."""

    predicate: str
    axes: tuple[str, ...]


@dataclass(frozen=True)
class Step:
    """``out = (+)_{reduce} (x)(inputs)``: a product of one or two registers, some axes reduced.

    Every tensor has the batch axis first; ``inputs_axes`` and ``out_axes`` name the others.
    """

    inputs: tuple[int, ...]
    inputs_axes: tuple[tuple[str, ...], ...]
    out_axes: tuple[str, ...]
    reduce: tuple[str, ...] = ()

    @property
    def joint(self) -> tuple[str, ...]:
        """The axes of the product before reduction: kept ones first, then reduced ones."""
        return self.out_axes + self.reduce

    @property
    def subscripts(self) -> str:
        """The einsum subscripts of the step (batch is ``a``)."""
        letter = {v: string.ascii_letters[i + 1] for i, v in enumerate(self.joint)}

        def sub(axes: tuple[str, ...]) -> str:
            return "a" + "".join(letter[v] for v in axes)

        return ",".join(sub(a) for a in self.inputs_axes) + "->" + sub(self.out_axes)

    def alignment(self, i: int) -> tuple[tuple[int, ...], tuple]:
        """(permutation, index) that bring input ``i`` onto the joint axes, size 1 where absent."""
        axes = self.inputs_axes[i]
        perm = (0, *(1 + axes.index(v) for v in self.joint if v in axes))
        index = (slice(None), *(slice(None) if v in axes else None for v in self.joint))
        return perm, index

    @property
    def reduced(self) -> tuple[int, ...]:
        """The positions of the reduced axes in the joint tensor."""
        start = 1 + len(self.out_axes)
        return tuple(range(start, start + len(self.reduce)))


@dataclass(frozen=True)
class LiftedPlan:
    """Contraction steps over the label tensors of a lifted formula.

    Registers ``0 .. len(factors) - 1`` hold the factors' tensors; step ``i`` writes register
    ``len(factors) + i``. The result is register ``output``, of shape ``(B, *sizes of free)``.
    """

    structure: str
    lifting: Lifting
    factors: tuple[Factor, ...]
    steps: tuple[Step, ...]
    output: int
    free: tuple[str, ...]
    sizes: tuple[tuple[str, int], ...]
    eliminated: bool  # variables eliminated greedily (distributive) or as written

    def size(self, var: str) -> int:
        return dict(self.sizes)[var]

    @property
    def intermediates(self) -> tuple[tuple[str, ...], ...]:
        """The axes (after batch) of every tensor a step builds."""
        return tuple(s.out_axes for s in self.steps)

    def expected_shape(self, predicate: str) -> tuple[int, ...]:
        """The shape of ``predicate``'s tensor after the batch axis."""
        factor = next(f for f in self.factors if f.predicate == predicate)
        return tuple(self.size(v) for v in factor.axes)


def lifted_plan(
    formula: Node,
    domains: Mapping[str, int] | None = None,
    output: Sequence[str] | None = None,
) -> LiftedPlan:
    """The contraction plan of ``formula``.

    ``domains`` gives the size of each variable's domain (needed for free variables; an
    aggregated one's is the length of its domain, which must agree). ``output`` orders the free
    variables as the result's axes after the batch axis; by default they are sorted by name.
    """
    algebra = get_algebra(formula.structure)
    lifting = lifting_of(algebra)
    walk = _Walk(dict(domains or {}))
    walk.visit(formula, (), frozenset())
    free = tuple(sorted(formula.free)) if output is None else tuple(output)
    if sorted(free) != sorted(formula.free):
        raise LiftingError(
            f"output {list(free)} must list the free variables"
            f" {sorted(formula.free)} of {formula}, each once"
        )
    builder = _Builder(walk.factors)
    distributive = algebra.has("times.distributes")
    if distributive:
        register, axes = builder.eliminate(walk.aggregated, walk.sizes, free)
    else:
        register, axes = builder.as_written(formula)
    if axes != free:
        register = builder.order(register, free)
    return LiftedPlan(
        structure=formula.structure,
        lifting=lifting,
        factors=tuple(walk.factors.values()),
        steps=tuple(builder.steps),
        output=register,
        free=free,
        sizes=tuple(sorted(walk.sizes.items())),
        eliminated=distributive,
    )


class _Walk:
    """Checks a formula for the lifted path; collects its atoms, sizes and aggregated variables."""

    def __init__(self, domains: dict[str, int]) -> None:
        self.domains = domains
        self.sizes: dict[str, int] = {}
        self.factors: dict[_Occurrence, Factor] = {}  # the same atom twice is two factors
        self.aggregated: list[str] = []
        self.arity: dict[str, tuple[Node, tuple[int, ...] | None]] = {}

    def visit(self, node: Node, path: tuple[int, ...], bound: frozenset[str]) -> None:
        check = _CHECKS.get(node.kind)
        if check is None:
            raise LiftingError(f"the lifted path cannot take {node.kind.value} node {node}")
        check(self, node, path, bound)
        if node.kind is Kind.AGG:
            bound = bound | {node.arg.var}
        for i, child in enumerate(node.children):
            self.visit(child, (*path, i), bound)

    def atom(self, node: Node, path: tuple[int, ...], bound: frozenset[str]) -> None:
        a = node.arg
        if a.rvar is not None:
            raise LiftingError(f"the lifted path cannot take the reified atom {node}")
        for t in a.args:
            if not isinstance(t, Var):
                raise LiftingError(
                    f"the lifted path cannot take the constant argument {t!r} of {node}:"
                    " every argument must be a variable"
                )
        names = tuple(t.name for t in a.args)
        if len(set(names)) != len(names):
            raise LiftingError(f"the lifted path cannot take repeated variables in {node}")
        for v in names:
            if v in self.aggregated and v not in bound:
                raise LiftingError(
                    f"variable {v} of {node} is also aggregated elsewhere in the formula:"
                    " rename one"
                )
            if v not in self.sizes:
                self.sizes[v] = self._size(v, None, node)
        shape = tuple(self.sizes[v] for v in names)
        first = self.arity.setdefault(a.predicate, (node, shape))
        if first[1] != shape:
            raise LiftingError(
                f"predicate {a.predicate} has argument sizes {first[1]} in {first[0]}"
                f" but {shape} in {node}: one tensor cannot have both shapes"
            )
        self.factors[_Occurrence(node, path)] = Factor(a.predicate, names)

    def apply(self, node: Node, path: tuple[int, ...], bound: frozenset[str]) -> None:
        if node.arg != "times":
            raise LiftingError(
                f"the lifted path takes products and aggregations only, not {node.arg} in {node}"
            )

    def agg(self, node: Node, path: tuple[int, ...], bound: frozenset[str]) -> None:
        var, domain = node.arg.var, node.arg.domain
        if node.arg.role != "plus":
            raise LiftingError(f"the lifted path cannot aggregate by (x) (in {node})")
        if domain == BOOL_DOMAIN:
            raise LiftingError(f"the lifted path cannot aggregate over truth values (in {node})")
        if var in self.aggregated or var in self.sizes:
            raise LiftingError(
                f"variable {var} is aggregated in {node} and also used outside it: rename one"
            )
        self.aggregated.append(var)
        self.sizes[var] = self._size(var, len(domain), node)

    def _size(self, var: str, length: int | None, node: Node) -> int:
        given = self.domains.get(var)
        if length is not None and given is not None and given != length:
            raise LiftingError(
                f"domains gives {var} size {given}, but {node} aggregates it over {length} values"
            )
        size = length if length is not None else given
        if size is None:
            raise LiftingError(f"variable {var} of {node} has no domain size: give domains")
        return int(size)


_CHECKS: dict[Kind, Callable[[_Walk, Node, tuple[int, ...], frozenset[str]], None]] = {
    Kind.ATOM: _Walk.atom,
    Kind.APPLY: _Walk.apply,
    Kind.AGG: _Walk.agg,
}


@dataclass(frozen=True)
class _Occurrence:
    """An atom at a position in the formula tree (the same atom twice is two factors)."""

    node: Node
    path: tuple[int, ...]


class _Builder:
    """Emits the steps of a plan; registers are numbered factors first, then steps."""

    def __init__(self, factors: dict[_Occurrence, Factor]) -> None:
        self.occurrences = {occ: i for i, occ in enumerate(factors)}
        self.factor_axes = [f.axes for f in factors.values()]
        self.axes: list[tuple[str, ...]] = list(self.factor_axes)
        self.steps: list[Step] = []

    def step(
        self, inputs: tuple[int, ...], out: tuple[str, ...], reduce: tuple[str, ...] = ()
    ) -> tuple[int, tuple[str, ...]]:
        self.steps.append(Step(inputs, tuple(self.axes[i] for i in inputs), out, reduce))
        self.axes.append(out)
        return len(self.axes) - 1, out

    def order(self, register: int, axes: tuple[str, ...]) -> int:
        """``register`` with its axes in the order ``axes``: the step that built it writes them
        so (a step's output order is free), or a transposition of a factor."""
        if register < len(self.factor_axes):
            return self.step((register,), axes)[0]
        last = self.steps[register - len(self.factor_axes)]
        self.steps[register - len(self.factor_axes)] = replace(last, out_axes=axes)
        self.axes[register] = axes
        return register

    def product(self, registers: list[int], reduce: tuple[str, ...] = ()) -> int:
        """The product of ``registers`` left to right, ``reduce`` summed out by the last step."""
        if len(registers) == 1:
            if not reduce:
                return registers[0]
            out = tuple(v for v in self.axes[registers[0]] if v not in reduce)
            return self.step((registers[0],), out, reduce)[0]
        acc = registers[0]
        for i, r in enumerate(registers[1:]):
            last = i == len(registers) - 2
            union = _union(self.axes[acc], self.axes[r])
            gone = reduce if last else ()
            acc = self.step((acc, r), tuple(v for v in union if v not in gone), gone)[0]
        return acc

    # --- without distributivity: as the formula is written --------------------------------
    def as_written(self, node: Node) -> tuple[int, tuple[str, ...]]:
        register = self._written(node, ())
        return register, self.axes[register]

    def _written(self, node: Node, path: tuple[int, ...]) -> int:
        if node.kind is Kind.ATOM:
            return self.occurrences[_Occurrence(node, path)]
        if node.kind is Kind.APPLY:
            return self.product([self._written(c, (*path, i)) for i, c in enumerate(node.children)])
        body, inner = node.children[0], (*path, 0)
        if body.is_op("times"):  # multiply the body out and reduce the variable in one go
            children = [self._written(c, (*inner, i)) for i, c in enumerate(body.children)]
            return self.product(children, (node.arg.var,))
        return self.product([self._written(body, inner)], (node.arg.var,))

    # --- with distributivity: greedy variable elimination ---------------------------------
    def eliminate(
        self, variables: list[str], sizes: dict[str, int], free: tuple[str, ...]
    ) -> tuple[int, tuple[str, ...]]:
        live = list(range(len(self.factor_axes)))
        todo = set(variables)

        def cost(v: str) -> tuple[int, str]:
            axes = set().union(*(self.axes[r] for r in live if v in self.axes[r])) - {v}
            return prod(sizes[a] for a in axes), v

        while todo:
            v = min(todo, key=cost)
            todo.discard(v)
            involved = [r for r in live if v in self.axes[r]]
            involved.sort(key=lambda r: (prod(sizes[a] for a in self.axes[r]), r))
            live = [r for r in live if v not in self.axes[r]]
            live.append(self.product(involved, (v,)))
        live.sort(key=lambda r: (prod(sizes[a] for a in self.axes[r]), r))
        register = self.product(live)
        return register, self.axes[register]


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return a + tuple(v for v in b if v not in a)
