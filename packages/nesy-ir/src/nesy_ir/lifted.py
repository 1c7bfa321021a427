"""Lifted plans: formulas over whole domains evaluated as tensor contractions, without grounding.

A *lifted* formula is built from atoms whose arguments are regular variables (``r(X, Z)``),
products (the structure's (x)) and aggregations by (+) over those variables, e.g. NeuroRule's
chain ``sum_Z2 ... sum_Zk p1(X, Z2) * p2(Z2, Z3) * ... * pk(Zk, Y)``. The label of a predicate
with k arguments is one tensor of shape ``(B, |D_1|, ..., |D_k|)`` (batch first): entry
``[b, i, j]`` is the label of ``r(d_i, d_j)``, where ``d_i`` is the i-th constant of the domain.

:func:`lifted_plan` turns such a formula into a :class:`LiftedPlan`: a short sequence of
:class:`Step` s, each a pairwise product of two tensors followed by the reduction of some axes
(einsum-like), or a reduction (or transposition) of one tensor. Where the structure declares that
(x) distributes over (+) (``times.distributes``), every aggregation may be moved to the front and
the variables are eliminated greedily, the one whose elimination builds the smallest tensor first
(variable elimination): a chain of binary relations never builds more than two entity axes. Where
it does not (Lukasiewicz, product logic), the plan follows the formula as written: the body of an
aggregation is multiplied out before its variable is reduced, which is exact but may build larger
tensors. The smooth maximum (:func:`smoothmax_algebra`) is a log-space semiring, so it is
eliminated greedily like ``logprob``.

:func:`evaluate_plan` is the NumPy reference executor; nesy-torch and nesy-jax execute the same
plan through :func:`run_plan` with their own :class:`Kernels`. A pairwise step of a log-space
structure (``logprob``, the smooth maximum) that reduces axes is one einsum of shifted exponentials
(:func:`log_contract`), not a broadcast product; entries whose exponentials underflow are
recomputed by broadcasting. What the lifted path cannot take
(negation, (+) between formulas, constants, transformations, reification, constant arguments,
repeated variables, aggregation by (x), a structure without a lifting) is refused with a
:class:`LiftingError` naming the node.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from math import prod
from typing import Any

import numpy as np

from .algebra import Algebra, Carrier
from .algebras import REALS
from .errors import LabelError, NesyError
from .laws import SEMIRING
from .nodes import Kind, Node
from .registry import get_algebra
from .terms import BOOL_DOMAIN, Var


class LiftingError(NesyError):
    """A formula (or structure) the lifted path cannot evaluate without grounding."""


# --- the smooth maximum ---------------------------------------------------------------------


@dataclass(frozen=True)
class SmoothMax:
    """``tau * log(exp(a / tau) + exp(b / tau))`` on log-truths: the smooth maximum of ``a`` and
    ``b``, their maximum as tau -> 0 and ``logaddexp`` (the (+) of ``logprob``) at tau = 1.

    Computed as ``max(a, b) + tau * log1p(exp(-|a - b| / tau))``: exact where one side is -inf
    (the neutral), without overflow for large values, -inf for two -inf.
    """

    temperature: float

    def __call__(self, a: Any, b: Any) -> Any:
        t = self.temperature
        m = np.maximum(a, b)
        with np.errstate(invalid="ignore"):
            d = -np.abs(np.subtract(a, b))
        d = np.where(np.isnan(d), -np.inf, d)  # both -inf (or both inf): m is the value
        return m + t * np.log1p(np.exp(d / t))


#: The default temperature of :data:`SMOOTHMAX`.
SMOOTHMAX_TEMPERATURE = 0.1

#: The carrier of the smooth maximum: log-truths, the logarithms of non-negative scores (the
#: reals with -inf, the log of 0; finite above, as ``inf - inf`` would break the declared laws).
LOG_TRUTHS = Carrier("[-inf, R]", low=-np.inf, high=REALS.high)


def smoothmax_algebra(
    temperature: float = SMOOTHMAX_TEMPERATURE, name: str = "smoothmax"
) -> Algebra:
    """The smooth maximum with ``temperature`` tau: a log-space semiring on log-truths.

    Values are log-truths (``log`` of a probability or non-negative score, -inf for 0). (x) is
    ``+`` (the log of the product of the truths) and (+) is the smooth maximum
    ``a (+) b = tau * log(exp(a / tau) + exp(b / tau))``, so that aggregating a body over a
    variable gives ``tau * log sum exp(x / tau)``: the maximum of the log-products as tau -> 0
    (``maxprod`` in log space), the log of the sum-product at tau = 1, where the structure equals
    ``logprob`` (on its carrier). This is NeuroRule's existential over intermediate entities.

    Why an algebra and not a parameter of the plan: the registry is where structures declare
    their laws, and the rewrite engine gates every rule by them; as a structure, formulas in it
    are checked, printed, evaluated by enumeration and lifted like every other. The laws declared
    are those that hold, the semiring laws of ``logprob``: (+) and (x) are associative and
    commutative; -inf (``zero``) is the neutral of (+) and absorbs (x); 0 (``one``) is the neutral
    of (x); and (x) distributes over (+) (``a + smax(b, c) = smax(a + b, a + c)``), so the lifted
    plan eliminates variables greedily (a chain never builds more than two entity axes). (+) is
    not idempotent (``smax(a, a) = a + tau log 2``) and there is no negation. Register the result
    with :func:`nesy_ir.register_algebra` (or the ``nesy.algebras`` entry point) to use it.
    """
    if not temperature > 0:
        raise ValueError(f"the temperature of a smooth maximum must be positive, got {temperature}")
    return Algebra(
        name=name,
        carrier=LOG_TRUTHS,
        zero=-np.inf,
        one=0.0,
        plus=SmoothMax(float(temperature)),
        times=np.add,
        neg=None,
        aggregators={"smoothmax": "plus", "prod": "times"},
        laws=SEMIRING,
        description=(
            f"smooth maximum (temperature {temperature:g}) and + on log-truths [-inf, R]:"
            " a log-space semiring"
        ),
        symbols={"plus": "smax", "times": "*"},
    )


#: The smooth maximum at the default temperature (not registered by default: register it).
SMOOTHMAX = smoothmax_algebra()


# --- how each structure is lifted -----------------------------------------------------------


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


# --- execution ------------------------------------------------------------------------------

Reduction = Callable[[Any, tuple[int, ...], "float | None"], Any]


@dataclass(frozen=True)
class LogOps:
    """The array operations of the log-space kernels (:func:`log_reduce`, :func:`log_contract`).

    ``amax(x, axes)`` and ``sum(x, axes)`` keep the reduced axes (size 1); ``detach(x)`` stops
    gradients; ``floor(x)`` is the smallest sum of exponentials trusted to full precision in
    ``x``'s dtype; ``repair(under, value, exact)`` replaces the entries of ``value`` where
    ``under`` holds by those of ``exact()``, calling it only when some entry needs it.
    """

    amax: Callable[[Any, tuple[int, ...]], Any]
    sum: Callable[[Any, tuple[int, ...]], Any]
    exp: Callable[[Any], Any]
    log: Callable[[Any], Any]
    where: Callable[[Any, Any, Any], Any]
    isfinite: Callable[[Any], Any]
    detach: Callable[[Any], Any]
    floor: Callable[[Any], float]
    repair: Callable[[Any, Any, Callable[[], Any]], Any]


@dataclass(frozen=True)
class Kernels:
    """What an executor needs from an array library.

    ``einsum(subscripts, *operands)``; ``permute(x, perm)``; ``times[name](a, b)`` pointwise;
    ``reductions[name](x, axes, temperature)`` the (+) reduction over ``axes``; ``log`` the
    operations of the log-space kernels (without them, log-space steps broadcast).
    """

    einsum: Callable[..., Any]
    permute: Callable[[Any, tuple[int, ...]], Any]
    times: Mapping[str, Callable[[Any, Any], Any]]
    reductions: Mapping[str, Reduction]
    log: LogOps | None = None


def _squeeze(x: Any, axes: tuple[int, ...]) -> Any:
    """``x`` without its (size-1) ``axes``, by indexing (the same in every array library)."""
    return x[tuple(0 if d in axes else slice(None) for d in range(len(x.shape)))]


def _shift(ops: LogOps, x: Any, axes: tuple[int, ...]) -> Any:
    """The maximum of ``x`` over ``axes`` (kept, size 1), 0 where it is not finite (all -inf),
    without gradient: the shift of a stable logsumexp (the value does not depend on it)."""
    m = ops.amax(x, axes) if axes else x
    return ops.detach(ops.where(ops.isfinite(m), m, 0.0))


def _log_of(ops: LogOps, s: Any, temperature: float, shift: Any) -> Any:
    """``temperature * log(s) + shift``, -inf where ``s`` is 0 with zero (not NaN) gradients."""
    positive = s > 0
    value = temperature * ops.log(ops.where(positive, s, 1.0)) + shift
    return ops.where(positive, value, -np.inf)


def log_reduce(ops: LogOps, x: Any, axes: tuple[int, ...], temperature: float = 1.0) -> Any:
    """``temperature * log sum exp(x / temperature)`` over ``axes``: -inf (gradient 0) where
    every entry is -inf."""
    m = _shift(ops, x, axes)
    s = ops.sum(ops.exp((x - m) / temperature), axes)
    return _squeeze(_log_of(ops, s, temperature, m), axes)


def log_contract(
    step: Step,
    a: Any,
    b: Any,
    temperature: float,
    kernels: Kernels,
    exact: Callable[[], Any] | None = None,
) -> Any:
    """A pairwise log-space step ``tau * log sum_reduce exp((a + b) / tau)`` as one einsum,
    without the broadcast product: ``tau * log(einsum(exp((a - m_a) / tau), exp((b - m_b) /
    tau))) + m_a + m_b``, ``m`` the maximum of each operand over its reduced axes (0 where all
    -inf). An entry whose sum of exponentials underflows (below ``floor``) although some term
    is finite, is recomputed by ``exact()`` (the broadcast step), when given."""
    ops = kernels.log
    assert ops is not None
    shifted, shifts, masks = [], [], []
    for x, axes in zip((a, b), step.inputs_axes, strict=True):
        reduced = tuple(1 + k for k, v in enumerate(axes) if v in step.reduce)
        m = _shift(ops, x, reduced)
        shifted.append(ops.exp((x - m) / temperature))
        kept = tuple(v for v in axes if v not in step.reduce)
        shifts.append(_onto(_squeeze(m, reduced), kept, step.out_axes, kernels.permute))
        masks.append(ops.where(ops.isfinite(x), 1.0, 0.0))
    s = kernels.einsum(step.subscripts, *shifted)
    value = _log_of(ops, s, temperature, shifts[0] + shifts[1])
    if exact is None:
        return value
    under = (s < ops.floor(s)) & (kernels.einsum(step.subscripts, *masks) > 0)
    return ops.repair(under, value, exact)


def _onto(x: Any, axes: tuple[str, ...], target: tuple[str, ...], permute: Callable) -> Any:
    """``x`` (batch, then ``axes``) broadcastable onto (batch, then ``target``)."""
    perm = (0, *(1 + axes.index(v) for v in target if v in axes))
    return permute(x, perm)[(slice(None), *(slice(None) if v in axes else None for v in target))]


def check_tensors(plan: LiftedPlan, tensors: Mapping[str, Any]) -> list[Any]:
    """The factors' tensors in register order; a :class:`LabelError` names a missing or
    misshapen one (the predicate, its shape and the expected one)."""
    batch: tuple[int, str] | None = None
    out = []
    for f in plan.factors:
        if f.predicate not in tensors:
            raise LabelError(f"no label tensor for predicate {f.predicate}")
        x = tensors[f.predicate]
        shape = tuple(int(n) for n in x.shape)
        expected = plan.expected_shape(f.predicate)
        if len(shape) != 1 + len(expected) or shape[1:] != expected:
            where = f"{f.predicate}({', '.join(f.axes)})" if f.axes else f.predicate
            dims = ", ".join(["B", *(str(n) for n in expected)])
            raise LabelError(
                f"label tensor of {f.predicate} has shape {shape}: expected ({dims}) for {where}"
            )
        if batch is None:
            batch = (shape[0], f.predicate)
        elif shape[0] != batch[0]:
            raise LabelError(
                f"label tensor of {f.predicate} has batch size {shape[0]}, but that of"
                f" {batch[1]} has {batch[0]}"
            )
        out.append(x)
    return out


def run_plan(plan: LiftedPlan, tensors: Mapping[str, Any], kernels: Kernels) -> Any:
    """Execute ``plan`` on ``tensors`` (by predicate) with an array library's ``kernels``."""
    registers = check_tensors(plan, tensors)
    lifting = plan.lifting
    for step in plan.steps:
        inputs = [registers[i] for i in step.inputs]
        if lifting.einsum:
            registers.append(kernels.einsum(step.subscripts, *inputs))
        elif lifting.log_space and kernels.log is not None and len(inputs) == 2 and step.reduce:
            exact = _broadcast_step(step, inputs, lifting, kernels)
            registers.append(log_contract(step, *inputs, lifting.scale, kernels, exact))
        else:
            registers.append(_broadcast_step(step, inputs, lifting, kernels)())
    return registers[plan.output]


def _broadcast_step(
    step: Step, inputs: list[Any], lifting: Lifting, kernels: Kernels
) -> Callable[[], Any]:
    """The step computed on the broadcast product of its inputs (all joint axes), as a thunk."""

    def run() -> Any:
        aligned = []
        for i, x in enumerate(inputs):
            perm, index = step.alignment(i)
            aligned.append(kernels.permute(x, perm)[index])
        value = aligned[0]
        if len(aligned) == 2:
            value = kernels.times[lifting.times](aligned[0], aligned[1])
        if step.reduce:
            value = kernels.reductions[lifting.plus](value, step.reduced, lifting.temperature)
        return value

    return run


def _floor(finfo: Callable[[Any], Any]) -> Callable[[Any], float]:
    """Below ``tiny / eps`` a sum of exponentials may have lost terms to underflow."""

    def floor(x: Any) -> float:
        info = finfo(x.dtype)
        return float(info.tiny) / float(info.eps)

    return floor


def _repair_eager(under: Any, value: Any, exact: Callable[[], Any], where: Callable) -> Any:
    return where(under, exact(), value) if bool(under.any()) else value


def array_log_ops(
    xp: Any,
    detach: Callable[[Any], Any] = lambda x: x,
    repair: Callable[[Any, Any, Callable[[], Any]], Any] | None = None,
) -> LogOps:
    """The log-space operations of a NumPy-like namespace (``numpy``, ``jax.numpy``)."""

    def where(c, x, y):
        return xp.where(c, x, y)

    return LogOps(
        amax=lambda x, axes: xp.max(x, axis=axes, keepdims=True),
        sum=lambda x, axes: xp.sum(x, axis=axes, keepdims=True),
        exp=xp.exp,
        log=xp.log,
        where=where,
        isfinite=xp.isfinite,
        detach=detach,
        floor=_floor(xp.finfo),
        repair=repair or (lambda under, value, exact: _repair_eager(under, value, exact, where)),
    )


def array_kernels(xp: Any, log: LogOps | None = None) -> Kernels:
    """Kernels from a NumPy-like namespace (``numpy``, ``jax.numpy``); ``log``: its log-space
    operations (by default :func:`array_log_ops`, without gradients)."""
    ops = log or array_log_ops(xp)

    return Kernels(
        einsum=xp.einsum,
        permute=xp.transpose,
        times={
            "multiply": xp.multiply,
            "add": xp.add,
            "minimum": xp.minimum,
            "and": xp.logical_and,
            "luk_and": lambda a, b: xp.maximum(0.0, a + b - 1.0),
        },
        reductions={
            "sum": lambda x, axes, t: xp.sum(x, axis=axes),
            "max": lambda x, axes, t: xp.max(x, axis=axes),
            "any": lambda x, axes, t: xp.any(x, axis=axes),
            "logsumexp": lambda x, axes, t: log_reduce(ops, x, axes),
            "smoothmax": lambda x, axes, t: log_reduce(ops, x, axes, t),
            "prob_or": lambda x, axes, t: 1.0 - xp.prod(1.0 - x, axis=axes),
            "luk_or": lambda x, axes, t: xp.minimum(1.0, xp.sum(x, axis=axes)),
        },
        log=ops,
    )


NUMPY_KERNELS = array_kernels(np)


def evaluate_plan(plan: LiftedPlan, tensors: Mapping[str, Any], xp: Any = np) -> Any:
    """The NumPy reference executor: the value of ``plan``, shape ``(B, *sizes of plan.free)``.

    Tensors are coerced to the structure's carrier dtype (NumPy only). ``xp`` may be another
    NumPy-like namespace (``jax.numpy``).
    """
    if xp is np:
        carrier = get_algebra(plan.structure).carrier
        tensors = {p: carrier.coerce(x) for p, x in tensors.items()}
        return run_plan(plan, tensors, NUMPY_KERNELS)
    return run_plan(plan, tensors, array_kernels(xp))


__all__ = [
    "LOG_TRUTHS",
    "SMOOTHMAX",
    "Factor",
    "Kernels",
    "LogOps",
    "LiftedPlan",
    "Lifting",
    "LiftingError",
    "SmoothMax",
    "Step",
    "array_kernels",
    "array_log_ops",
    "evaluate_plan",
    "lifted_plan",
    "lifting_of",
    "log_contract",
    "log_reduce",
    "run_plan",
    "smoothmax_algebra",
]
