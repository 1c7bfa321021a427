"""Relevant grounding of a logic program into a :class:`GroundProgram`, and a brute-force oracle.

:func:`ground` works top-down from the queries with tabling: every call pattern (a goal whose
variables are renamed canonically) has a table of ground answers. Evaluating a call runs each
matching clause body left to right against the current tables, registering new calls; a call whose
table grows makes the calls that read it dirty, and they are evaluated again until nothing changes
(a fixpoint, so positive recursion over cyclic data terminates). New calls are evaluated before
dirty ones, deepest first, so non-recursive programs evaluate each call about once.

Probabilistic facts, heads of annotated disjunctions and neural heads are possibly-true facts.
Internally terms are Python values: ``int``/``float``, ``str`` (constants), tuples
``(functor, *args)`` (compounds, lists are ``(".", head, tail)``) and :class:`_V` (variables).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from nesy_ir.errors import NesyError
from nesy_ir.nesting import recursion_room
from nesy_ir.terms import TensorConst

from .arithmetic import NotArithmetic, evaluate
from .collect import MAX_UNCERTAIN, certain, proofs, selections
from .collector import collector_paused
from .ground_program import (
    Choice,
    EvidenceError,
    GroundAtom,
    GroundEvidence,
    GroundProgram,
    Literal,
    ProbFact,
    atom_text,
)
from .horn import closure
from .program import (
    BUILTINS,
    COLLECTIONS,
    CONTROL,
    META,
    NOT_SUPPORTED,
    OPERATORS,
    AnnotatedDisjunction,
    Evidence,
    Float,
    Int,
    Location,
    Neg,
    NeuralPredicate,
    Program,
    Query,
    Struct,
    Term,
    Var,
    is_builtin,
    parse_term,
    quote_name,
    variables,
)
from .progress import Deadline, Meter

__all__ = [
    "EvidenceError",
    "GroundingBudgetError",
    "GroundingError",
    "NonStratifiedError",
    "UnknownPredicateError",
    "UnsafeVariableError",
    "brute_force_probabilities",
    "ground",
    "least_model",
]


class GroundingError(NesyError):
    """A program that cannot be grounded (bad arithmetic, conflicting declarations, ...)."""


class UnsafeVariableError(GroundingError):
    """A variable that must be bound is not: in a head, a negation, a comparison, ``is``."""


class UnknownPredicateError(GroundingError):
    """A goal whose predicate has no clause, fact, disjunction or neural declaration."""


class GroundingBudgetError(GroundingError):
    """More ground atoms than ``max_atoms`` or calls nested deeper than ``max_depth``."""


class NonStratifiedError(GroundingError):
    """Negation through a cycle of the predicate dependency graph."""


# --- internal terms --------------------------------------------------------------------------
class _V:
    """A variable; identity is what matters."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


_KEY_VARS: list[_V] = []  # canonical variables of call patterns


def _key_var(i: int) -> _V:
    while len(_KEY_VARS) <= i:
        _KEY_VARS.append(_V(f"_K{len(_KEY_VARS)}"))
    return _KEY_VARS[i]


class _G(tuple):
    """A ground compound term; every ground compound is one, so plain tuples have variables.

    The hash is cached: ground terms (long lists of tensors) are dict keys again and again.
    """

    def __hash__(self) -> int:
        try:
            return self._hash  # type: ignore[has-type]
        except AttributeError:
            self._hash = h = tuple.__hash__(self)
            return h


def _mk(functor: str, args: Iterable) -> tuple:
    """The compound ``functor(*args)``: a :class:`_G` when the args are ground."""
    args = tuple(args)
    ground = all(type(a) is not _V and type(a) is not tuple for a in args)
    return _G((functor, *args)) if ground else (functor, *args)


def _compile(t: Term, names: dict[str, _V]) -> object:
    if isinstance(t, Var):
        return names.setdefault(t.name, _V(t.name))
    if isinstance(t, (Int, Float)):
        return t.value
    if not t.args:
        return t.functor
    return _mk(t.functor, (_compile(a, names) for a in t.args))


def _walk(t: object, env: dict) -> object:
    while type(t) is _V and t in env:
        t = env[t]
    return t


def _resolve(t: object, env: dict) -> object:
    t = _walk(t, env)
    if type(t) is tuple:
        return _mk(t[0], (_resolve(a, env) for a in t[1:]))
    return t


def _is_ground(t: object) -> bool:
    """Whether a resolved term is ground."""
    return type(t) is not _V and type(t) is not tuple


def _unify(a: object, b: object, env: dict, trail: list) -> bool:
    a, b = _walk(a, env), _walk(b, env)
    if a is b:
        return True
    if type(a) is _V:
        env[a] = b
        trail.append(a)
        return True
    if type(b) is _V:
        env[b] = a
        trail.append(b)
        return True
    if type(a) is _G and type(b) is _G:
        return a == b
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (
            isinstance(a, tuple)
            and isinstance(b, tuple)
            and len(a) == len(b)
            and a[0] == b[0]
            and all(_unify(x, y, env, trail) for x, y in zip(a[1:], b[1:], strict=True))
        )
    return a == b and type(a) is type(b)


def _undo(env: dict, trail: list, mark: int) -> None:
    while len(trail) > mark:
        del env[trail.pop()]


def _call_key(goal: object, env: dict) -> tuple[object, object]:
    """``(key, pattern)``: ``goal`` under ``env``, with its variables renamed canonically (the
    call pattern) and as they are (to match answers against)."""
    names: dict[_V, _V] = {}

    def norm(t: object) -> tuple[object, object]:
        t = _walk(t, env)
        if type(t) is _V:
            if t not in names:
                names[t] = _key_var(len(names))
            return names[t], t
        if type(t) is tuple:
            pairs = [norm(a) for a in t[1:]]
            return _mk(t[0], (k for k, _ in pairs)), _mk(t[0], (p for _, p in pairs))
        return t, t

    return norm(goal)


def _match(pattern: object, ground: object, env: dict, trail: list) -> bool:
    """Unify a resolved ``pattern`` with a ground term (faster than :func:`_unify`)."""
    if type(pattern) is _V:
        if pattern in env:
            return env[pattern] == ground
        env[pattern] = ground
        trail.append(pattern)
        return True
    if type(pattern) is tuple:
        return (
            type(ground) is _G
            and len(pattern) == len(ground)
            and pattern[0] == ground[0]
            and all(_match(p, g, env, trail) for p, g in zip(pattern[1:], ground[1:], strict=True))
        )
    return pattern == ground


#: predicates of at least this many clauses are indexed by first argument (below, trying every
#: clause costs less than the index)
INDEXED = 8


def _first_arg(t: object) -> object:
    """What indexes a term by its first argument: the argument itself when atomic, name and
    arity when compound, None when a variable or when there is no argument."""
    if not isinstance(t, tuple) or len(t) < 2:
        return None
    a = t[1]
    if type(a) is _V:
        return None
    return (a[0], len(a)) if isinstance(a, tuple) else a


def _indicator(t: object) -> tuple[str, int]:
    return (t[0], len(t) - 1) if isinstance(t, tuple) else (str(t), 0)


def _pred_text(p: tuple[str, int]) -> str:
    return f"{p[0]}/{p[1]}"


class _Raw(str):
    """Text to write as it is (a plain ``str`` is a constant, to quote)."""


_ARITHMETIC = ("+", "-", "*", "/", "//", "mod")


def _pieces(t: object, env: dict | None = None) -> Iterator[str]:
    """The text of ``t`` piece by piece, with an explicit stack (terms of any depth).

    Without ``env`` the canonical text of a ground term: ``f(a,1)``, ``[1,2]``. With ``env``
    (for messages) the term under ``env``, arithmetic infix, unbound variables by their names.
    """
    stack: list[object] = [t]
    while stack:
        t = stack.pop()
        if type(t) is _Raw:
            yield t
            continue
        t = t if env is None else _follow(t, env)
        if type(t) is _V:
            yield t.name
        elif isinstance(t, tuple) and t[0] == "." and len(t) == 3:
            parts: list[object] = [_Raw("[")]
            while isinstance(t, tuple) and t[0] == "." and len(t) == 3:
                parts += [_Raw(","), t[1]] if len(parts) > 1 else [t[1]]
                t = t[2] if env is None else _follow(t[2], env)
            parts += [] if t == "[]" else [_Raw("|"), t]
            stack += reversed([*parts, _Raw("]")])
        elif isinstance(t, tuple) and env is not None and len(t) == 3 and t[0] in _ARITHMETIC:
            stack += reversed([_Raw("("), t[1], _Raw(f" {t[0]} "), t[2], _Raw(")")])
        elif isinstance(t, tuple) and len(t) == 3 and t[0] in OPERATORS and t[0] not in ",;":
            stack += reversed(_infix_pieces(t))
        elif isinstance(t, tuple):
            parts = [_Raw(quote_name(t[0]) + "(")]
            for i, a in enumerate(t[1:]):
                parts += [_Raw(","), a] if i else [a]
            stack += reversed([*parts, _Raw(")")])
        elif isinstance(t, str):
            yield quote_name(t)
        else:
            yield repr(t) if isinstance(t, float) else str(t)


def _infix_pieces(t: tuple) -> list[object]:
    """``a-b`` as ProbLog writes a term of an infix operator: its arguments in parentheses
    only where the operator's priority needs them (``(1+2)*3``, ``1+2*3``)."""
    priority, kind = OPERATORS[t[0]]
    op = f" {t[0]} " if t[0].isalpha() else t[0]
    left = _operand(t[1], priority - (kind[0] == "x"))
    return [*left, _Raw(op), *_operand(t[2], priority - (kind[2] == "x"))]


def _operand(arg: object, room: int) -> list[object]:
    inner = OPERATORS.get(arg[0]) if isinstance(arg, tuple) and len(arg) == 3 else None
    return [_Raw("("), arg, _Raw(")")] if inner is not None and inner[0] > room else [arg]


def _text(t: object) -> str:
    """Canonical text of a ground internal term: ``f(a,1)``, ``[1,2]``."""
    if not isinstance(t, tuple):
        return quote_name(t) if isinstance(t, str) else repr(t) if isinstance(t, float) else str(t)
    return "".join(_pieces(t))


def _clip(pieces: Iterable[str], limit: int = 200) -> str:
    """The text of ``pieces``, cut after ``limit`` characters (a message stays short)."""
    out, size = [], 0
    for piece in pieces:
        out.append(piece)
        size += len(piece)
        if size > limit:
            return "".join(out)[:limit] + "..."
    return "".join(out)


def _short(t: object) -> str:
    """The text of a ground term for messages: cut when long."""
    return _clip(_pieces(t))


def _out_arg(t: object) -> object:
    if isinstance(t, tuple):
        if t[0] == "tensor" and len(t) == 2:
            return TensorConst(t[1] if isinstance(t[1], str) else _text(t[1]))
        return _text(t)
    return repr(t) if isinstance(t, float) else quote_name(t) if isinstance(t, str) else t


def _out_atom(t: object) -> GroundAtom:
    if isinstance(t, tuple):
        return t[0], tuple(_out_arg(a) for a in t[1:])
    return str(t), ()


# --- sources: what can answer a call ---------------------------------------------------------
@dataclass
class _Source:
    """A clause, one head of a disjunction, or a neural declaration, compiled."""

    kind: str  # "rule" | "prob" | "ad" | "nn"
    head: object
    body: list[tuple[str, object]]
    vars: list[_V]
    location: Location
    index: int = 0  # clause / disjunction number, for fresh predicate names
    probability: object = None  # a number, or a term the body binds (compiled)
    choice: int = 0  # for "ad": which head
    probabilities: tuple = ()  # for "ad": every head's, as ``probability``
    ad: AnnotatedDisjunction | None = None
    nn: NeuralPredicate | None = None
    nn_terms: tuple = ()  # for "nn": compiled (inputs, output, domain)


def _compile_probability(p: float | Term | None, names: dict[str, _V]) -> object:
    """A clause's probability: a number as it is, a term (bound by the body) compiled."""
    return p if p is None or isinstance(p, float) else _compile(p, names)


def _compile_body(body: tuple, names: dict[str, _V]) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for lit in body:
        atom, negated = (lit.atom, True) if isinstance(lit, Neg) else (lit, False)
        kind = (
            "builtin"
            if is_builtin(atom)
            else "meta"
            if atom.indicator in META
            else "collect"
            if atom.indicator in COLLECTIONS
            else "call"
        )
        out.append(((("not " if negated else "") + kind), _compile(atom, names)))
    return out


def _sources(program: Program) -> dict[tuple[str, int], list[_Source]]:
    out: dict[tuple[str, int], list[_Source]] = {}
    for k, c in enumerate(program.clauses):
        names: dict[str, _V] = {}
        head = _compile(c.head, names)
        body = _compile_body(c.body, names)
        kind = "rule" if c.probability is None else "prob"
        vs = [names[v.name] for v in variables(c.head, *c.body)]
        out.setdefault(c.head.indicator, []).append(
            _Source(kind, head, body, vs, c.location, k, _compile_probability(c.probability, names))
        )
    for k, ad in enumerate(program.disjunctions):
        names = {}
        heads = [_compile(h, names) for h in ad.heads]
        body = _compile_body(ad.body, names)
        vs = [names[v.name] for v in variables(*ad.heads, *ad.body)]
        probs = tuple(_compile_probability(p, names) for p in ad.probabilities)
        for i, (h, head) in enumerate(zip(ad.heads, heads, strict=True)):
            src = _Source("ad", head, body, vs, ad.location, k, None, i, probs, ad=ad)
            out.setdefault(h.indicator, []).append(src)
    for nn in program.neural:
        pred = nn.head.indicator
        if pred in out:
            raise GroundingError(
                f"{nn.location}: {_pred_text(pred)} is a neural predicate and is also defined"
                f" elsewhere (at {out[pred][0].location})"
            )
        names = {}
        head = _compile(nn.head, names)
        terms = (
            [_compile(t, names) for t in nn.inputs],
            _compile(nn.output, names),
            [_compile(t, names) for t in nn.domain],
        )
        out[pred] = [_Source("nn", head, [], [], nn.location, nn=nn, nn_terms=terms)]
    return out


# --- built-ins -------------------------------------------------------------------------------
def _order_key(t: object) -> tuple:
    """The standard order of terms: variables, numbers (by value, a float before an equal
    integer), atoms (alphabetically), compounds (by arity, name, then arguments)."""
    if type(t) is _V:
        return (0, id(t))
    if isinstance(t, (int, float)):
        return (1, t, isinstance(t, int))
    if isinstance(t, str):
        return (3, t)
    return (4, len(t) - 1, t[0], tuple(_order_key(a) for a in t[1:]))


_ORDER: dict[str, Callable[[tuple, tuple], bool]] = {
    "@<": lambda a, b: a < b,
    "@>": lambda a, b: a > b,
    "@=<": lambda a, b: a <= b,
    "@>=": lambda a, b: a >= b,
}


def _list_items(t: object, env: dict) -> tuple[list, object]:
    """The items of the (partial) list ``t`` under ``env`` and what ends it (``[]``, or an
    unbound variable, or another term)."""
    items = []
    t = _walk(t, env)
    while isinstance(t, tuple) and t[0] == "." and len(t) == 3:
        items.append(t[1])
        t = _walk(t[2], env)
    return items, t


def _make_list(items: Iterable, tail: object = "[]") -> object:
    for item in reversed(list(items)):
        tail = _mk(".", (item, tail))
    return tail


def _check(
    test: Callable[[object], bool],
) -> Callable[[tuple, dict, list, Location], Iterator[None]]:
    def run(args: tuple, env: dict, trail: list, loc: Location) -> Iterator[None]:
        if test(_resolve(args[0], env)):
            yield

    return run


def _is_list(t: object) -> bool:
    while isinstance(t, tuple) and t[0] == "." and len(t) == 3:
        t = t[2]
    return t == "[]"


def _integer(value: object, what: str, loc: Location) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise UnsafeVariableError(f"{loc}: {what} must be an integer, found {_short(value)}")
    return value


def _univ(args: tuple, env: dict, trail: list, loc: Location) -> Iterator[None]:
    term = _walk(args[0], env)
    if type(term) is not _V:
        parts = [term[0], *term[1:]] if isinstance(term, tuple) else [term]
        if _unify(args[1], _make_list(parts), env, trail):
            yield
        return
    items, tail = _list_items(args[1], env)
    items = [_resolve(i, env) for i in items]
    if tail != "[]" or not items or (len(items) > 1 and not isinstance(items[0], str)):
        raise UnsafeVariableError(
            f"{loc}: =.. needs a term on the left or a list [Name|Args] on the right,"
            f" found {_show(args[1], env)}"
        )
    built = _mk(items[0], items[1:]) if len(items) > 1 else items[0]
    if _unify(term, built, env, trail):
        yield


def _functor(args: tuple, env: dict, trail: list, loc: Location) -> Iterator[None]:
    term = _walk(args[0], env)
    if type(term) is not _V:
        name, arity = (term[0], len(term) - 1) if isinstance(term, tuple) else (term, 0)
        if _unify(args[1], name, env, trail) and _unify(args[2], arity, env, trail):
            yield
        return
    name, arity = _resolve(args[1], env), _integer(_resolve(args[2], env), "functor's arity", loc)
    built = _mk(name, [_V("_") for _ in range(arity)]) if arity else name
    if _unify(term, built, env, trail):
        yield


def _arg(args: tuple, env: dict, trail: list, loc: Location) -> Iterator[None]:
    term = _walk(args[1], env)
    if not isinstance(term, tuple):
        raise UnsafeVariableError(
            f"{loc}: arg/3 needs a compound term, found {_show(args[1], env)}"
        )
    n = _resolve(args[0], env)
    wanted = range(1, len(term)) if type(n) is _V else [_integer(n, "arg's index", loc)]
    for i in wanted:
        if 1 <= i < len(term):
            mark = len(trail)
            if _unify(args[0], i, env, trail) and _unify(args[2], term[i], env, trail):
                yield
            _undo(env, trail, mark)


def _length(args: tuple, env: dict, trail: list, loc: Location) -> Iterator[None]:
    items, tail = _list_items(args[0], env)
    if tail == "[]":
        if _unify(args[1], len(items), env, trail):
            yield
        return
    n = _resolve(args[1], env)
    if type(tail) is not _V or type(n) is _V:
        raise UnsafeVariableError(
            f"{loc}: length/2 of a list of unknown length needs the length: {_show(args[0], env)}"
        )
    extra = _integer(n, "length", loc) - len(items)
    if extra >= 0 and _unify(tail, _make_list(_V("_") for _ in range(extra)), env, trail):
        yield


def _between(args: tuple, env: dict, trail: list, loc: Location) -> Iterator[None]:
    low = _integer(_resolve(args[0], env), "between's lower bound", loc)
    high = _resolve(args[1], env)
    x = _resolve(args[2], env)
    if type(x) is not _V:
        if isinstance(x, int) and low <= x and (high == "inf" or x <= high):
            yield
        return
    if high == "inf":
        raise UnsafeVariableError(f"{loc}: between/3 up to inf with an unbound value is infinite")
    for value in range(low, _integer(high, "between's upper bound", loc) + 1):
        mark = len(trail)
        if _unify(x, value, env, trail):
            yield
        _undo(env, trail, mark)


def _succ(args: tuple, env: dict, trail: list, loc: Location) -> Iterator[None]:
    x, y = _resolve(args[0], env), _resolve(args[1], env)
    if type(x) is not _V:
        if _integer(x, "succ's argument", loc) >= 0 and _unify(y, x + 1, env, trail):
            yield
    elif type(y) is not _V:
        if _integer(y, "succ's argument", loc) > 0 and _unify(x, y - 1, env, trail):
            yield
    else:
        raise UnsafeVariableError(f"{loc}: succ/2 needs one of its arguments bound")


def _ground_arg(value: object, what: str, loc: Location) -> object:
    if not _is_ground(value):
        raise UnsafeVariableError(f"{loc}: {what} must be bound when it is called")
    return value


def _compare(args: tuple, env: dict, trail: list, loc: Location) -> Iterator[None]:
    a = _order_key(_ground_arg(_resolve(args[1], env), "compare/3's terms", loc))
    b = _order_key(_ground_arg(_resolve(args[2], env), "compare/3's terms", loc))
    if _unify(args[0], "<" if a < b else ">" if a > b else "=", env, trail):
        yield


def _sorter(unique: bool) -> Callable[[tuple, dict, list, Location], Iterator[None]]:
    def run(args: tuple, env: dict, trail: list, loc: Location) -> Iterator[None]:
        items, tail = _list_items(_ground_arg(_resolve(args[0], env), "the list to sort", loc), {})
        if tail != "[]":
            raise UnsafeVariableError(f"{loc}: sorting needs a list, found {_show(args[0], env)}")
        items = sorted(items, key=_order_key)
        if unique:
            items = [x for i, x in enumerate(items) if i == 0 or x != items[i - 1]]
        if _unify(args[1], _make_list(items), env, trail):
            yield

    return run


def _enum_groups(args: tuple, env: dict, trail: list, loc: Location) -> Iterator[None]:
    """``_enum_groups(Pairs, Key, Values)``: for each key of the list of ``[Key, Value]``
    pairs, in order of first occurrence, its values in order (aggregates in clause heads)."""
    items, end = _list_items(args[0], env)
    pairs = [_list_items(x, env) for x in items]
    if end != "[]" or any(len(p) != 2 or rest != "[]" for p, rest in pairs):
        raise GroundingError(f"{loc}: grouping needs a list of [Key, Value] pairs")
    groups: dict = {}
    for (key, value), _ in pairs:
        groups.setdefault(_resolve(key, env), []).append(value)
    for key, values in groups.items():
        mark = len(trail)
        if _unify(args[1], key, env, trail) and _unify(args[2], _make_list(values), env, trail):
            yield
        _undo(env, trail, mark)


def _plain_text(t: object, loc: Location) -> str:
    """The text of a bound term as library(string) reads it: an atom's or a string's
    characters without quotes, a number's digits."""
    if not _is_ground(t):
        raise UnsafeVariableError(f"{loc}: library(string) needs bound text, got {_short(t)}")
    if isinstance(t, str):
        return t[1:-1] if len(t) >= 2 and t[0] == t[-1] == '"' else t
    return _text(t)


def _join(args: tuple, env: dict, trail: list, loc: Location) -> Iterator[None]:
    """``'$join'(Separator, Terms, Out)``: Out the atom of the terms' texts, separated."""
    items, end = _list_items(args[1], env)
    if end != "[]":
        raise GroundingError(f"{loc}: library(string) joins a list, got {_show(args[1], env)}")
    separator = _plain_text(_resolve(args[0], env), loc)
    out = separator.join(_plain_text(_resolve(x, env), loc) for x in items)
    if _unify(args[2], out, env, trail):
        yield


def _chars(args: tuple, env: dict, trail: list, loc: Location) -> Iterator[None]:
    """``'$chars'(Text, Chars)``: the one-character atoms of Text."""
    if _unify(args[1], _make_list(_plain_text(_resolve(args[0], env), loc)), env, trail):
        yield


def _to_integer(args: tuple, env: dict, trail: list, loc: Location) -> Iterator[None]:
    """``'$integer'(Text, N)``: the integer that Text spells."""
    text = _plain_text(_resolve(args[0], env), loc)
    try:
        value = int(text)
    except ValueError:
        raise GroundingError(f"{loc}: str2int/2 of {text!r}, which is not an integer") from None
    if _unify(args[1], value, env, trail):
        yield


def _memberchk(args: tuple, env: dict, trail: list, loc: Location) -> Iterator[None]:
    items, _ = _list_items(_ground_arg(_resolve(args[1], env), "memberchk/2's list", loc), {})
    for item in items:
        mark = len(trail)
        if _unify(args[0], item, env, trail):
            yield
            return
        _undo(env, trail, mark)


_BUILTINS: dict[tuple[str, int], Callable[[tuple, dict, list, Location], Iterator[None]]] = {
    ("var", 1): _check(lambda t: type(t) is _V),
    ("nonvar", 1): _check(lambda t: type(t) is not _V),
    ("atom", 1): _check(lambda t: isinstance(t, str)),
    ("number", 1): _check(lambda t: isinstance(t, (int, float)) and not isinstance(t, bool)),
    ("integer", 1): _check(lambda t: isinstance(t, int) and not isinstance(t, bool)),
    ("float", 1): _check(lambda t: isinstance(t, float)),
    ("atomic", 1): _check(lambda t: isinstance(t, (str, int, float))),
    ("compound", 1): _check(lambda t: isinstance(t, tuple)),
    ("callable", 1): _check(lambda t: isinstance(t, (str, tuple))),
    ("is_list", 1): _check(_is_list),
    ("ground", 1): _check(_is_ground),
    ("=..", 2): _univ,
    ("functor", 3): _functor,
    ("arg", 3): _arg,
    ("length", 2): _length,
    ("between", 3): _between,
    ("succ", 2): _succ,
    ("compare", 3): _compare,
    ("sort", 2): _sorter(unique=True),
    ("msort", 2): _sorter(unique=False),
    ("memberchk", 2): _memberchk,
    ("_enum_groups", 3): _enum_groups,
    ("$join", 3): _join,
    ("$chars", 2): _chars,
    ("$integer", 2): _to_integer,
}


# --- stratification --------------------------------------------------------------------------
def _strata(
    sources: dict[tuple[str, int], list[_Source]], roots: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """Stratum of each predicate reachable from ``roots``; raises on negation in a cycle.
    (A meta-call's predicate is known only when it runs: see :meth:`_Grounder.ground_strata`.)"""
    edges: dict[tuple[str, int], list[tuple[tuple[str, int], str | None, object]]] = {}
    todo = list(roots)
    while todo:
        p = todo.pop()
        if p in edges:
            continue
        edges[p] = []
        for src in sources.get(p, []):
            for kind, t in src.body:
                if kind.endswith("call") or kind == "collect":
                    q = _indicator(t[2] if kind == "collect" else t)  # type: ignore[index]
                    how = _pred_text(_indicator(t)) if kind == "collect" else None
                    edges[p].append((q, "\\+" if kind == "not call" else how, src.location))
                    todo.append(q)
    return _stratify(edges)


def _stratify(
    edges: dict[tuple[str, int], list[tuple[tuple[str, int], str | None, object]]],
) -> dict[tuple[str, int], int]:
    """Stratum of each predicate of the dependency graph ``edges`` (predicate -> (predicate it
    calls, None or the construct that calls it non-monotonically (``\\+``, ``findall/3``),
    where)); raises on such a call in a cycle."""
    index: dict[tuple[str, int], int] = {}
    low: dict[tuple[str, int], int] = {}
    stack: list[tuple[str, int]] = []
    on_stack: set[tuple[str, int]] = set()
    stratum: dict[tuple[str, int], int] = {}

    def visit(p: tuple[str, int]) -> None:  # Tarjan: components come out dependencies first
        index[p] = low[p] = len(index)
        stack.append(p)
        on_stack.add(p)
        for q, _, _ in edges[p]:
            if q not in index:
                visit(q)
                low[p] = min(low[p], low[q])
            elif q in on_stack:
                low[p] = min(low[p], index[q])
        if low[p] == index[p]:
            members = []
            while True:
                q = stack.pop()
                on_stack.discard(q)
                members.append(q)
                if q == p:
                    break
            inside = set(members)
            level = 0
            for m in members:
                for q, how, loc in edges[m]:
                    if q in inside and how is not None:
                        names = ", ".join(sorted(_pred_text(x) for x in inside))
                        negation = how == "\\+"
                        what = f"\\+ {_pred_text(q)}" if negation else f"the goal of {how}"
                        raise NonStratifiedError(
                            f"{loc}: {'negation' if negation else how} is not stratified: {what}"
                            f" in a clause for"
                            f" {_pred_text(m)}, and these predicates depend on each other:"
                            f" {names}"
                        )
                    if q not in inside:
                        level = max(level, stratum[q] + (0 if how is None else 1))
            for m in members:
                stratum[m] = level

    for p in list(edges):
        if p not in index:
            visit(p)
    return stratum


# --- the grounder ----------------------------------------------------------------------------
@dataclass
class _Table:
    answers: list = field(default_factory=list)
    seen: set = field(default_factory=set)
    consumers: set = field(default_factory=set)
    depth: int = 0
    dirty: bool = False


class _Grounder:
    def __init__(
        self, program: Program, max_atoms: int, max_depth: int, meter: Meter | None = None
    ):
        self.sources = _sources(program)
        self.max_atoms, self.max_depth = max_atoms, max_depth
        self.meter = meter or Meter("grounding")  # counts rule instances, checks the budget
        self.tables: dict[object, _Table] = {}
        self.fresh: list[object] = []  # a stack of calls never evaluated
        self.new: list[object] = []  # calls registered by the current evaluation
        self.dirty: list[tuple[int, int, object]] = []
        self.counter = itertools.count()
        self.atoms: set = set()
        self.rules: dict[object, dict[tuple, None]] = {}
        self.prob: dict[object, dict[tuple, float]] = {}  # head -> {(fresh atom, body): p}
        self.choices: dict[tuple, Choice] = {}
        self.neural_cache: dict[tuple, tuple] = {}
        self.unknown_fail = program.unknown_fail
        self.where: Location | str = "grounding"  # the clause of the latest answer
        self.meta_used = False  # a call/N, not/1 or once/1 ran
        self.negated = False  # a rule body holds a negated atom: prune() before the result
        self.possible: set | None = None  # the atoms that can hold, once pruned
        self.complete: set = set()  # calls whose tables hold all their answers
        self.index: dict[tuple[str, int], dict] = {}  # predicate -> first argument -> clauses
        self.merged: dict[tuple, list[_Source]] = {}  # (predicate, first argument) -> clauses
        self.waiting: dict[object, tuple[set, Location]] = {}  # collected call -> callers
        self.lists: dict[tuple, list] = {}  # (complete call, findall or all) -> its lists

    # --- scheduling ----------------------------------------------------------------------------
    def call(self, key: object, depth: int, loc: Location) -> _Table:
        table = self.tables.get(key)
        if table is not None:
            return table
        pred = _indicator(key)
        if pred in NOT_SUPPORTED:
            raise GroundingError(
                f"{loc}: {_pred_text(pred)} is not supported: {NOT_SUPPORTED[pred]}"
            )
        if pred not in self.sources and not self.unknown_fail:
            raise UnknownPredicateError(
                f"{loc}: unknown predicate {_pred_text(pred)} (no clause, fact or declaration)"
            )
        if depth > self.max_depth:
            raise GroundingBudgetError(
                f"{loc}: recursion deeper than max_depth={self.max_depth} (call {_short(key)} at"
                f" depth {depth})"
            )
        table = self.tables[key] = _Table(depth=depth)
        self.new.append(key)
        return table

    def run(self) -> None:
        """Evaluate calls to a fixpoint; then the calls that no clause waiting on a findall/3
        feeds are complete, and the clauses waiting on complete ones run again, to a fixpoint
        of their own, until none waits."""
        self.saturate()
        while self.waiting:
            fed: set = set()
            todo = [c for callers, _ in self.waiting.values() for c in callers]
            while todo:  # the calls a waiting clause feeds are not complete yet
                key = todo.pop()
                if key not in fed:
                    fed.add(key)
                    todo.extend(self.tables[key].consumers)
            self.complete |= self.tables.keys() - fed
            ready = [k for k in self.waiting if k in self.complete]
            if not ready:
                _, loc = next(iter(self.waiting.values()))
                raise NonStratifiedError(
                    f"{loc}: findall/3 is not stratified: the answers of its goal depend on the"
                    " clause that collects them"
                )
            for key in ready:
                for caller in self.waiting.pop(key)[0]:
                    t = self.tables[caller]
                    if not t.dirty:
                        t.dirty = True
                        heapq.heappush(self.dirty, (-t.depth, next(self.counter), caller))
            self.saturate()

    def saturate(self) -> None:
        self.fresh.extend(reversed(self.new))
        self.new.clear()
        while self.fresh or self.dirty:
            if self.fresh:
                key = self.fresh.pop()
            else:
                key = heapq.heappop(self.dirty)[2]
                self.tables[key].dirty = False
            table = self.tables[key]
            before = len(table.answers)
            self.meter.check()
            self.evaluate(key, table)
            self.fresh.extend(reversed(self.new))
            self.new.clear()
            if len(table.answers) > before:
                for consumer in table.consumers:
                    t = self.tables[consumer]
                    if not t.dirty:
                        t.dirty = True
                        heapq.heappush(self.dirty, (-t.depth, next(self.counter), consumer))

    def answer(self, table: _Table, atom: object) -> None:
        if atom in table.seen:
            return
        table.seen.add(atom)
        table.answers.append(atom)
        self.count(atom)

    def count(self, atom: object) -> None:
        if atom not in self.atoms:
            self.atoms.add(atom)
            if len(self.atoms) > self.max_atoms:
                raise GroundingBudgetError(
                    f"{self.where}: more than max_atoms={self.max_atoms} ground atoms, the last"
                    f" from this clause: {_short(atom)} (an infinite program?)"
                )

    # --- evaluation ----------------------------------------------------------------------------
    def candidates(self, key: object) -> list[_Source]:
        """The clauses whose heads may match the call ``key``, in program order: those whose
        first argument is a variable or has the name of the call's (first-argument indexing:
        a call on one of many facts tries that fact, not all of them)."""
        pred, first = _indicator(key), _first_arg(key)
        sources = self.sources.get(pred, [])
        if first is None or len(sources) < INDEXED:
            return sources
        index = self.index.get(pred)
        if index is None:
            index = self.index[pred] = {}
            for pos, src in enumerate(sources):
                index.setdefault(_first_arg(src.head), []).append((pos, src))
        merged = self.merged.get((pred, first))
        if merged is None:
            pairs = sorted([*index.get(first, ()), *index.get(None, ())], key=lambda x: x[0])
            merged = self.merged[(pred, first)] = [src for _, src in pairs]
        return merged

    def evaluate(self, key: object, table: _Table) -> None:
        for src in self.candidates(key):
            env: dict = {}
            trail: list = []
            if not _unify(src.head, key, env, trail):
                continue
            if src.kind == "nn":
                self.neural(src, key, table, env)
                continue

            def done(env: dict, lits: list, src: _Source = src) -> None:
                self.solution(src, table, env, lits)

            self.solve(src, 0, env, trail, [], key, table.depth, done)

    def solve(
        self,
        src: _Source,
        i: int,
        env: dict,
        trail: list,
        lits: list,
        caller: object,
        depth: int,
        done: Callable[[dict, list], None],
    ) -> None:
        if i == len(src.body):
            done(env, lits)
            return
        kind, goal = src.body[i]
        if kind.endswith("meta"):
            goal, kind = self.meta(goal, kind, env, src)
        if kind == "call":
            key, pattern = _call_key(goal, env)
            table = self.call(key, depth + 1, src.location)
            table.consumers.add(caller)
            if _is_ground(key):
                if key in table.seen:
                    lits.append((key, True))
                    self.solve(src, i + 1, env, trail, lits, caller, depth, done)
                    lits.pop()
                return
            answers = table.answers
            j = 0
            while j < len(answers):  # live: answers added meanwhile are seen too
                atom = answers[j]
                j += 1
                mark = len(trail)
                if _match(pattern, atom, env, trail):
                    lits.append((atom, True))
                    self.solve(src, i + 1, env, trail, lits, caller, depth, done)
                    lits.pop()
                _undo(env, trail, mark)
            return
        if kind == "collect":
            name, _, helper, result = goal  # type: ignore[misc]
            key, _ = _call_key(helper, env)
            table = self.call(key, depth + 1, src.location)
            table.consumers.add(caller)
            if key not in self.complete:  # run() resumes the caller once the table is complete
                self.waiting.setdefault(key, (set(), src.location))[0].add(caller)
                return
            for items, chosen in self.collected(key, name, src.location):
                mark = len(trail)
                if _unify(result, _make_list(a[1] for a in items), env, trail):
                    self.negated |= not all(p for _, p in chosen)
                    lits.extend(chosen)
                    self.solve(src, i + 1, env, trail, lits, caller, depth, done)
                    del lits[len(lits) - len(chosen) :]
                _undo(env, trail, mark)
            return
        if kind == "builtin":
            mark = len(trail)
            for _ in self.builtin(goal, env, trail, src):
                self.solve(src, i + 1, env, trail, lits, caller, depth, done)
                _undo(env, trail, mark)
            _undo(env, trail, mark)
            return
        atom = _resolve(goal, env)  # a negated goal
        if not _is_ground(atom):
            raise UnsafeVariableError(
                f"{src.location}: unsafe negation \\+ {_show(goal, env)}: its variables must be"
                " bound when it is called"
            )
        if kind == "not builtin":
            if next(iter(self.builtin(atom, {}, [], src)), False) is False:
                self.solve(src, i + 1, env, trail, lits, caller, depth, done)
            return
        self.call(atom, depth + 1, src.location)
        self.negated = True
        lits.append((atom, False))
        self.solve(src, i + 1, env, trail, lits, caller, depth, done)
        lits.pop()

    def collected(self, key: object, name: str, loc: Location) -> list[tuple[list, list]]:
        """The lists of answers of the complete call ``key`` that findall/3 (``name``) or
        all/3 makes, each with the literals that select it (:mod:`nesy_compile.collect`);
        computed once per call, however often the clauses that collect it run again."""
        found = self.lists.get((key, name))
        if found is None:
            found = self.lists[(key, name)] = self.selected(key, name, loc)
        return found

    def selected(self, key: object, name: str, loc: Location) -> list[tuple[list, list]]:
        answers = self.tables[key].answers
        sure = certain(answers, self.bodies)
        if len(answers) - len(sure) > MAX_UNCERTAIN:
            raise GroundingBudgetError(
                f"{loc}: {name}/3 over a goal with {len(answers) - len(sure)} answers that may or"
                f" may not hold: {2 ** (len(answers) - len(sure))} lists (at most"
                f" {MAX_UNCERTAIN} such answers)"
            )
        if name == "findall":
            memo: dict = {}
            for a in answers:
                if proofs(a, self.bodies, memo, set()) > 1:
                    raise GroundingError(
                        f"{loc}: findall/3 over a goal with several proofs of the answer that"
                        f" gives {_short(a[1])}: ProbLog lists one element per proof, which nesy"  # type: ignore[index]
                        " does not; all/3 lists one element per answer"
                    )
        return [
            (items, lits) for items, lits in selections(answers, sure) if items or name == "findall"
        ]

    def bodies(self, atom: object) -> list[tuple]:
        """The ground bodies of ``atom``, a probabilistic clause's with its fresh atom."""
        out = list(self.rules.get(atom, ()))
        out += [((fresh, True), *body) for fresh, body in self.prob.get(atom, ())]
        return out

    def meta(self, goal: object, kind: str, env: dict, src: _Source) -> tuple[object, str]:
        """The goal a meta-call stands for, and its kind: ``call(G, A...)`` is G with the
        arguments added, ``not(G)`` is ``\\+ G``, ``once(G)`` is G when G is ground (one
        answer, whichever proof)."""
        self.meta_used = True
        name, _ = _indicator(goal)
        inner = _resolve(goal[1], env)  # type: ignore[index]
        if type(inner) is _V:
            raise UnsafeVariableError(
                f"{src.location}: {name}/{len(goal) - 1} of an unbound goal {_show(goal[1], env)}"  # type: ignore[index, arg-type]
            )
        negated = kind.startswith("not ")
        if name == "call":
            extra = goal[2:]  # type: ignore[index]
            inner = (
                _mk(inner[0], (*inner[1:], *extra))
                if isinstance(inner, tuple)
                else _mk(inner, extra)
                if extra
                else inner
            )
        elif name == "not":
            negated = not negated
        elif not _is_ground(inner):
            raise UnsafeVariableError(
                f"{src.location}: once/1 of a goal with unbound variables, {_show(goal, env)},"
                " is not supported: it would keep one answer of several"
            )
        if not isinstance(inner, (str, tuple)) or _indicator(inner) in META:
            raise GroundingError(f"{src.location}: {_show(inner, env)} is not a callable goal")
        if _indicator(inner) in CONTROL:
            raise GroundingError(
                f"{src.location}: {_pred_text(_indicator(inner))} through {name}/"
                f"{len(goal) - 1} is not supported: write it in the clause body"  # type: ignore[arg-type]
            )
        target = "builtin" if _indicator(inner) in BUILTINS else "call"
        return inner, ("not " if negated else "") + target

    def builtin(self, goal: object, env: dict, trail: list, src: _Source) -> Iterator[None]:
        """Each way the built-in ``goal`` holds, its bindings on ``trail`` meanwhile (the caller
        undoes them after each)."""
        name, arity = _indicator(goal)
        if arity == 0:
            if name == "true":
                yield
            return
        run = _BUILTINS.get((name, arity))
        if run is not None:
            yield from run(goal[1:], env, trail, src.location)  # type: ignore[index]
            return
        left, right = goal[1], goal[2]  # type: ignore[index]
        if name == "=":
            if _unify(left, right, env, trail):
                yield
            return
        if name == "is":
            value = _resolve(right, env)
            if not _is_ground(value):
                raise UnsafeVariableError(
                    f"{src.location}: unsafe 'is': the right side {_show(right, env)} has"
                    " unbound variables"
                )
            if _unify(left, _arith(value, src.location), env, trail):
                yield
            return
        a, b = _resolve(left, env), _resolve(right, env)
        if not (_is_ground(a) and _is_ground(b)):
            raise UnsafeVariableError(
                f"{src.location}: unsafe comparison {_show(left, env)} {name} {_show(right, env)}:"
                " both sides must be bound when it is called"
            )
        if name in _ORDER:
            if _ORDER[name](_order_key(a), _order_key(b)):
                yield
            return
        if name == "\\=":
            holds = not _unify(a, b, {}, [])
        elif name == "==":
            holds = a == b
        elif name == "\\==":
            holds = a != b
        else:
            x, y = _arith(a, src.location), _arith(b, src.location)
            holds = {
                "<": x < y,
                "=<": x <= y,
                ">": x > y,
                ">=": x >= y,
                "=:=": x == y,
                "=\\=": x != y,
            }[name]
        if holds:
            yield

    def solution(self, src: _Source, table: _Table, env: dict, lits: list) -> None:
        self.meter.step()
        self.where = src.location
        head = _resolve(src.head, env)
        if not _is_ground(head):
            self.unsafe(_vars_of(src.head), src, env, f"the head {_show(src.head, env)}")
        body = tuple(lits)
        if src.kind == "rule":
            self.rules.setdefault(head, {})[body] = None
        else:
            values = [_resolve(v, env) for v in src.vars]
            if not all(_is_ground(v) for v in values):
                self.unsafe(src.vars, src, env, "a probabilistic clause")
            if src.kind == "prob":
                fresh = _make(f"_rule{src.index}", values)
                p = self.probability(src.probability, env, src)
                self.prob.setdefault(head, {})[(fresh, body)] = p
                self.count(fresh)
            else:
                ad = src.ad
                assert ad is not None
                atoms = tuple(
                    _make(f"_ad{src.index}_{i + 1}", values) for i in range(len(ad.heads))
                )
                if atoms not in self.choices:
                    probs = tuple(self.probability(p, env, src) for p in src.probabilities)
                    if sum(probs) > 1.0 + 1e-9:
                        raise GroundingError(
                            f"{src.location}: the probabilities of the disjunction sum to"
                            f" {sum(probs):g} > 1 for {_short(head)}"
                        )
                    self.choices[atoms] = Choice(atoms, probs)
                    for a in atoms:
                        self.count(a)
                self.rules.setdefault(head, {})[((atoms[src.choice], True), *body)] = None
        self.answer(table, head)

    def query_keys(self, queries: list) -> list[tuple[object, Location]]:
        """The call keys of ``queries``; a query given by a rule (``query(X) :- Goal``) stands
        for the instances of X its helper proves, found by grounding the helper first."""
        keys = []
        for q in queries:
            via = q.via if isinstance(q, Query) else None
            if via is None:
                keys.append(_query_key(q))
                continue
            key, loc = _query_key(Query(via, q.location))
            self.call(key, 0, loc)
            self.run()
            keys += [(answer[1], loc) for answer in self.tables[key].answers]
        return keys

    def ground_strata(self) -> dict[tuple[str, int], int]:
        """The strata of the predicates from the ground rules (which hold the meta-calls'
        targets); raises on negation in a cycle."""
        edges: dict[tuple[str, int], list[tuple[tuple[str, int], str | None, object]]] = {}
        bodies = [(h, b) for h, bs in self.rules.items() for b in bs]
        bodies += [(h, b) for h, inst in self.prob.items() for _, b in inst]
        for head, body in bodies:
            out = edges.setdefault(_indicator(head), [])
            for atom, positive in body:
                out.append((_indicator(atom), None if positive else "\\+", "the ground program"))
                edges.setdefault(_indicator(atom), [])
        return _stratify(edges)

    def prune(self) -> None:
        """Drop what cannot hold, as ProbLog's grounding does: a rule body with a negated atom
        that holds in every world (derived by rules from such atoms alone), then a body with
        an atom that no rule, fact or choice can derive. A query with variables then lists
        only the answers that can hold. Linear in the ground program (two least models)."""
        certain = closure(
            (h, [a for a, _ in b])
            for h, bs in self.rules.items()
            for b in bs
            if all(p for _, p in b)
        )
        for head in list(self.rules):
            self.rules[head] = {
                b: None for b in self.rules[head] if not any(not p and a in certain for a, p in b)
            }
        chosen = {a for atoms in self.choices for a in atoms}
        bodies = [(h, b) for h, bs in self.rules.items() for b in bs]
        bodies += [(h, b) for h, inst in self.prob.items() for _, b in inst]
        derivable = closure((h, [a for a, p in b if p and a not in chosen]) for h, b in bodies)
        for head in list(self.rules):
            if head not in derivable:
                del self.rules[head]
        for head in list(self.prob):
            if head not in derivable:
                del self.prob[head]
        self.possible = derivable | chosen

    def probability(self, p: object, env: dict, src: _Source) -> float:
        """The value of a clause's probability ``p`` for the instance ``env``, in [0, 1]."""
        if isinstance(p, float):
            return p
        value = _resolve(p, env)
        if not _is_ground(value):
            self.unsafe(_vars_of(p), src, env, "the probability")
        number = float(_arith(value, src.location))
        if not 0.0 <= number <= 1.0:
            raise GroundingError(
                f"{src.location}: probability {_short(value)} = {number:g} is not in [0, 1]"
            )
        return number

    def unsafe(self, vs: list[_V], src: _Source, env: dict, where: str) -> None:
        unbound = dict.fromkeys(v.name for v in vs if not _is_ground(_resolve(v, env)))
        raise UnsafeVariableError(
            f"{src.location}: unsafe variable(s) {', '.join(unbound)} in {where}: not bound by"
            " the body"
        )

    def neural(self, src: _Source, key: object, table: _Table, env: dict) -> None:
        in_terms, out_term, domain = src.nn_terms
        inputs = tuple(_resolve(t, env) for t in in_terms)
        if not all(_is_ground(t) for t in inputs):
            raise UnsafeVariableError(
                f"{src.location}: neural predicate {_show(src.head, env)} called with unbound"
                " inputs"
            )
        cache_key = (id(src), inputs)
        atoms = self.neural_cache.get(cache_key)
        if atoms is None:
            atoms_list = []
            for value in domain:
                env2: dict = {}
                for t, x in zip(in_terms, inputs, strict=True):
                    _unify(t, x, env2, [])
                _unify(out_term, value, env2, [])
                atoms_list.append(_resolve(src.head, env2))
            atoms = self.neural_cache[cache_key] = tuple(atoms_list)
            nn = src.nn
            assert nn is not None
            self.choices[atoms] = Choice(atoms, None, nn.net, inputs)
        for atom in atoms:
            if _unify(key, atom, {}, []):
                self.answer(table, atom)

    # --- output ----------------------------------------------------------------------------
    def result(
        self,
        queries: list[tuple[object, Location]],
        strata: dict,
        evidence: Iterable[tuple[object, bool, Location]] = (),
    ) -> GroundProgram:
        if self.meta_used:  # the predicates meta-calls reached: strata from the ground rules
            strata = self.ground_strata()
        if self.negated:
            self.prune()
        conv: dict[object, GroundAtom] = {}

        def out(a: object) -> GroundAtom:
            if a not in conv:
                conv[a] = _out_atom(a)
            return conv[a]

        def possible(a: object) -> bool:
            table = self.tables.get(a)
            return table is None or bool(table.answers)

        rules: dict[GroundAtom, dict[tuple[Literal, ...], None]] = {}
        for head, bodies in self.rules.items():
            dest = rules.setdefault(out(head), {})
            for body in bodies:
                dest[tuple((out(a), pos) for a, pos in body if pos or possible(a))] = None
        facts: dict[GroundAtom, float] = {}
        for head, instances in self.prob.items():
            if len(instances) == 1 and head not in self.rules:
                (fresh, body), p = next(iter(instances.items()))
                if not body:
                    facts[out(head)] = p
                    continue
            for (fresh, body), p in instances.items():
                facts[out(fresh)] = p
                body_out = tuple((out(a), pos) for a, pos in body if pos or possible(a))
                rules.setdefault(out(head), {})[((out(fresh), True), *body_out)] = None
        found: dict[GroundAtom, None] = {}
        for key, _ in queries:
            answers = self.tables[key].answers
            if _is_ground(key) and not answers:
                found[out(key)] = None
            for atom in answers:
                if _is_ground(key) or self.possible is None or atom in self.possible:
                    found[out(atom)] = None
        given = [  # evidence on an atom no clause derives is false: kept only when it holds
            GroundEvidence(out(key), value, str(loc))
            for key, value, loc in evidence
            if self.tables[key].answers
        ]
        used = set(found) | {e.atom for e in given}  # what the queries and evidence depend on
        todo = list(used)
        while todo:
            for body in rules.get(todo.pop(), ()):
                for atom, _ in body:
                    if atom not in used:
                        used.add(atom)
                        todo.append(atom)
        choices = []
        for c in self.choices.values():
            atoms = tuple(out(x) for x in c.atoms)
            if any(x in used for x in atoms):
                choices.append(
                    Choice(atoms, c.probabilities, c.net, tuple(map(_out_arg, c.inputs)))
                )
        levels: dict[int, list[GroundAtom]] = {}
        for head in rules:
            if head in used:
                levels.setdefault(strata.get((head[0], len(head[1])), 0), []).append(head)
        return GroundProgram(
            rules={h: list(b) for h, b in rules.items() if h in used},
            facts=[ProbFact(x, p) for x, p in facts.items() if x in used],
            choices=choices,
            queries=list(found),
            strata=[levels[k] for k in sorted(levels)],
            evidence=given,
        )


def _make(name: str, values: list) -> object:
    return _mk(name, values) if values else name


def _vars_of(t: object) -> list[_V]:
    if isinstance(t, _V):
        return [t]
    if isinstance(t, tuple):
        return [v for a in t[1:] for v in _vars_of(a)]
    return []


def _follow(t: object, env: dict) -> object:
    """``t`` under ``env``, except that unbound variables keep the clause's names."""
    while type(t) is _V and t in env:
        nxt = _walk(t, env)
        if type(nxt) is _V and nxt.name.startswith("_K"):  # an unbound variable of the call
            break
        t = nxt
    return t


def _show(t: object, env: dict) -> str:
    """Text of ``t`` under ``env`` for messages (cut when long)."""
    return _clip(_pieces(t, env))


def _arith(t: object, loc: Location) -> int | float:
    try:
        return evaluate(t)
    except NotArithmetic as e:
        if str(e) == "not an arithmetic expression":
            raise GroundingError(f"{loc}: {_short(t)} is not an arithmetic expression") from None
        raise GroundingError(f"{loc}: {e} in {_short(t)}") from None


def _query_key(q: Struct | Query | str) -> tuple[object, Location]:
    if isinstance(q, str):
        term = parse_term(q, "<query>")
        if not isinstance(term, Struct):
            raise GroundingError(f"<query>: {q!r} is not an atom")
        q = term
    atom, loc = (q.atom, q.location) if isinstance(q, Query) else (q, Location("<query>", 1, 1))
    if is_builtin(atom):
        raise GroundingError(f"{loc}: a query cannot be the built-in {atom.functor}")
    return _call_key(_compile(atom, {}), {})[0], loc


def _evidence_keys(
    evidence: Iterable[Evidence], sources: dict
) -> list[tuple[object, bool, Location]]:
    """The ground evidence atoms with their values, once each; contradictory evidence (the
    same atom true and false) and evidence on a predicate nothing defines are refused."""
    seen: dict[object, tuple[bool, Location]] = {}
    out: list[tuple[object, bool, Location]] = []
    for e in evidence:
        key = _compile(e.atom, {})
        if _indicator(key) not in sources:
            raise EvidenceError(
                f"{e.location}: evidence on {e.atom}, but {_pred_text(_indicator(key))} has no"
                " clause, fact or declaration (ProbLog: unknown clause)"
            )
        if key in seen:
            value, where = seen[key]
            if value != e.value:
                raise EvidenceError(
                    f"{e.location}: contradictory evidence: {e.atom} is"
                    f" {'true' if e.value else 'false'} here and {'true' if value else 'false'}"
                    f" at {where}"
                )
            continue
        seen[key] = (e.value, e.location)
        out.append((key, e.value, e.location))
    return out


@collector_paused()
def ground(
    program: Program,
    queries: list[Struct | Query | str] | None = None,
    max_atoms: int = 1_000_000,
    max_depth: int = 10_000,
    *,
    time_budget_s: float | Deadline | None = None,
    progress: bool | None = False,
) -> GroundProgram:
    """The relevant ground program for ``queries`` (default: the program's ``query(...)``).

    The program's evidence atoms are grounded too (:attr:`GroundProgram.evidence`); an
    :class:`EvidenceError` names evidence that is contradictory, on an undefined predicate, or
    true on an atom no clause can derive (ProbLog's inconsistent evidence). Evidence false on
    such an atom holds in every world and is dropped. A query with variables stands for all its
    provable groundings. Raises
    :class:`UnsafeVariableError`, :class:`UnknownPredicateError`, :class:`GroundingBudgetError`,
    :class:`NonStratifiedError` (all :class:`GroundingError`), each naming ``file:line:col``, and
    :class:`~nesy_compile.progress.CompileBudgetError` past ``time_budget_s`` (seconds, or a
    :class:`~nesy_compile.progress.Deadline` that also bounds the compilation after it).
    ``progress`` counts the rule instances on stderr (None: if stderr is a terminal).
    """
    deadline = Deadline.of(time_budget_s)
    meter = Meter("grounding", deadline, progress, unit=" rules", every=1024)
    with recursion_room(), meter:  # room for terms nested up to MAX_NESTING deep
        asked = list(program.queries if queries is None else queries)
        grounder = _Grounder(program, max_atoms, max_depth, meter)
        keys = grounder.query_keys(asked)
        evidence = _evidence_keys(program.evidence, grounder.sources)
        roots = [_indicator(k) for k, _ in keys] + [_indicator(k) for k, _, _ in evidence]
        strata = _strata(grounder.sources, roots)
        for key, loc in keys:
            grounder.call(key, 0, loc)
        for key, _, loc in evidence:
            grounder.call(key, 0, loc)
        grounder.run()
        for key, value, loc in evidence:
            if value and not grounder.tables[key].answers:
                raise EvidenceError(
                    f"{loc}: evidence({_short(key)}, true) cannot hold: no clause, fact or"
                    f" declaration derives {_short(key)} (ProbLog: inconsistent evidence)"
                )
        return grounder.result(keys, strata, evidence)


# --- semantics oracle ------------------------------------------------------------------------
def least_model(gp: GroundProgram, true_atoms: set) -> set:
    """The atoms true when exactly ``true_atoms`` of the probabilistic/choice atoms are true.

    Strata are evaluated in order; within one, rules fire until nothing changes.
    """
    model = set(true_atoms)
    for stratum in gp.strata:
        changed = True
        while changed:
            changed = False
            for head in stratum:
                if head not in model and any(
                    all((a in model) == pos for a, pos in body) for body in gp.rules[head]
                ):
                    model.add(head)
                    changed = True
    return model


def brute_force_probabilities(gp: GroundProgram, max_worlds: int = 1 << 22) -> dict:
    """``{query atom: probability}`` by enumerating every world (a test oracle); with evidence,
    P(query | evidence), and an :class:`EvidenceError` when the evidence has probability 0.

    Facts are independent; each choice makes one of its atoms true, or none with the remaining
    probability. Neural choices have no probabilities: give them some first.
    """
    options: list[list[tuple[float, tuple]]] = []
    for f in gp.facts:
        options.append([(f.probability, (f.atom,)), (1.0 - f.probability, ())])
    for c in gp.choices:
        if c.probabilities is None:
            raise GroundingError(
                f"neural choice {atom_text(c.atoms[0])}...: brute force needs probabilities"
            )
        opts = [(p, (a,)) for p, a in zip(c.probabilities, c.atoms, strict=True)]
        rest = 1.0 - sum(c.probabilities)
        options.append(opts + ([(rest, ())] if rest > 1e-12 else []))
    worlds = 1
    for o in options:
        worlds *= len(o)
    if worlds > max_worlds:
        raise GroundingError(f"{worlds} worlds are more than max_worlds={max_worlds}")
    result = dict.fromkeys(gp.queries, 0.0)
    given = 0.0  # the probability of the evidence
    for world in itertools.product(*options):
        weight = 1.0
        true: set = set()
        for p, atoms in world:
            weight *= p
            true.update(atoms)
        if weight == 0.0:
            continue
        model = least_model(gp, true)
        if any((e.atom in model) != e.value for e in gp.evidence):
            continue
        given += weight
        for q in gp.queries:
            if q in model:
                result[q] += weight
    if not gp.evidence:
        return result
    if given == 0.0:
        evidence = ", ".join(str(e) for e in gp.evidence)
        raise EvidenceError(f"the evidence {evidence} has probability 0")
    return {q: v / given for q, v in result.items()}
