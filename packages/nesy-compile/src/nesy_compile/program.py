"""Logic programs in a DeepProbLog-style language: the AST and its parser.

:func:`parse_program` reads text with a hand-written tokenizer and an operator-precedence
(recursive-descent) parser into immutable dataclasses. Bodies with ``;`` are expanded into several
clauses; a probabilistic rule or annotated disjunction whose body has ``;`` gets a helper predicate
``_body{n}`` over all the clause's variables, so that it stays one probabilistic choice (as in
ProbLog). ``parse_program(str(p)) == p`` holds (locations are not compared).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace
from itertools import product
from pathlib import Path
from typing import NamedTuple

from nesy_ir.errors import NestingError, NesyError, NesySyntaxError
from nesy_ir.nesting import MAX_NESTING, recursion_room
from nesy_ir.terms import Var  # a logic variable: the IR's own
from nesy_ir.textfile import read_text

from .arithmetic import NotArithmetic, evaluate
from .library import LIBRARIES, UNSUPPORTED_LIBRARIES

__all__ = [
    "BUILTINS",
    "META",
    "NOT_SUPPORTED",
    "OPERATORS",
    "AnnotatedDisjunction",
    "Clause",
    "Evidence",
    "Float",
    "Int",
    "Location",
    "Neg",
    "NeuralPredicate",
    "Program",
    "Query",
    "Struct",
    "Var",
    "is_builtin",
    "load_program",
    "parse_evidence",
    "parse_program",
    "parse_term",
    "quote_name",
    "variables",
]


# --- AST -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Struct:
    """A constant (no args), a compound term or an atom ``functor(args...)``."""

    functor: str
    args: tuple[Term, ...] = ()

    @property
    def indicator(self) -> tuple[str, int]:
        """``(functor, arity)``: the predicate of an atom."""
        return self.functor, len(self.args)

    def __str__(self) -> str:
        return _text(self, nested=False)


@dataclass(frozen=True)
class Int:
    value: int

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class Float:
    value: float

    def __str__(self) -> str:
        return repr(self.value)


Term = Var | Struct | Int | Float


@dataclass(frozen=True)
class Neg:
    """A negated body literal ``\\+ atom`` (negation as failure)."""

    atom: Struct

    def __str__(self) -> str:
        return f"\\+ {_text(self.atom, nested=True)}"


Literal = Struct | Neg


@dataclass(frozen=True)
class Location:
    source: str = "<program>"
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}"


NOWHERE = Location("<python>", 0, 0)


def _probability_text(p: float | Term) -> str:
    """A probability as written: a number, or the term the body binds (``P``, ``P * 0.5``)."""
    return repr(p) if isinstance(p, float) else _text(p, True)


def _clause_text(head: str, body: tuple[Literal, ...]) -> str:
    return head + (" :- " + ", ".join(str(b) for b in body) if body else "") + "."


@dataclass(frozen=True)
class Clause:
    """``head :- body.``; ``probability`` set for ``p::head :- body.`` (a probabilistic fact when
    the body is empty)."""

    head: Struct
    body: tuple[Literal, ...] = ()
    probability: float | Term | None = None
    location: Location = field(default=NOWHERE, compare=False)

    def __str__(self) -> str:
        prob = "" if self.probability is None else f"{_probability_text(self.probability)}::"
        return _clause_text(prob + str(self.head), self.body)


@dataclass(frozen=True)
class AnnotatedDisjunction:
    """``p1::h1; ...; pk::hk :- body.``: at most one head is chosen, with probability p_i."""

    heads: tuple[Struct, ...]
    probabilities: tuple[float | Term, ...]
    body: tuple[Literal, ...] = ()
    location: Location = field(default=NOWHERE, compare=False)

    def __str__(self) -> str:
        heads = "; ".join(
            f"{_probability_text(p)}::{h}"
            for p, h in zip(self.probabilities, self.heads, strict=True)
        )
        return _clause_text(heads, self.body)


@dataclass(frozen=True)
class NeuralPredicate:
    """``nn(net, [X1..Xn], Y, [d1..dm]) :: head.``: network ``net`` on the inputs gives a
    distribution over the values of ``Y``."""

    net: str
    inputs: tuple[Term, ...]
    output: Var
    domain: tuple[Term, ...]
    head: Struct
    location: Location = field(default=NOWHERE, compare=False)

    def __str__(self) -> str:
        ins = ",".join(_text(t, True) for t in self.inputs)
        dom = ",".join(_text(t, True) for t in self.domain)
        return f"nn({quote_name(self.net)},[{ins}],{self.output},[{dom}]) :: {self.head}."


@dataclass(frozen=True)
class Query:
    """``query(atom).``; with ``via``, ``query(atom) :- Goal.``: the queries are the
    instances of ``atom`` for which ``via`` (a helper predicate over ``atom``, holding Goal)
    can be proved."""

    atom: Struct
    location: Location = field(default=NOWHERE, compare=False)
    via: Struct | None = None

    def __str__(self) -> str:
        rule = f" :- {self.via}" if self.via is not None else ""
        return f"query({_text(self.atom, True)}){rule}."


@dataclass(frozen=True)
class Evidence:
    """``evidence(atom, true).`` (also ``evidence(atom).``) or ``evidence(atom, false).`` (also
    ``evidence(\\+ atom).``), as in ProbLog: the queries are conditioned on ``atom`` having
    ``value``."""

    atom: Struct
    value: bool = True
    location: Location = field(default=NOWHERE, compare=False)

    def __str__(self) -> str:
        return f"evidence({_text(self.atom, True)},{'true' if self.value else 'false'})."


@dataclass(frozen=True)
class Program:
    clauses: tuple[Clause, ...] = ()
    disjunctions: tuple[AnnotatedDisjunction, ...] = ()
    neural: tuple[NeuralPredicate, ...] = ()
    queries: tuple[Query, ...] = ()
    source: str = field(default="<program>", compare=False)
    evidence: tuple[Evidence, ...] = ()
    unknown_fail: bool = False  # ':- unknown(fail).': an undefined predicate fails

    def __str__(self) -> str:
        parts = (*self.clauses, *self.disjunctions, *self.neural, *self.queries, *self.evidence)
        flags = ":- unknown(fail).\n" if self.unknown_fail else ""
        return flags + "".join(f"{s}\n" for s in parts)


# --- helpers ---------------------------------------------------------------------------------
COMPARISONS = frozenset(
    {"<", "=<", ">", ">=", "=:=", "=\\=", "=", "\\=", "==", "\\==", "is"}
    | {"@<", "@>", "@=<", "@>=", "=.."}
)
ARITHMETIC = frozenset({"+", "-", "*", "/", "//", "mod", "rem", "**", "^"})
#: type checks, each of one argument
TYPE_CHECKS = ("var", "nonvar", "atom", "number", "integer", "float", "atomic", "compound")
TYPE_CHECKS += ("callable", "is_list", "ground")
BUILTINS = frozenset(
    {(op, 2) for op in COMPARISONS}
    | {("true", 0), ("fail", 0), ("false", 0)}
    | {(name, 1) for name in TYPE_CHECKS}
    | {("functor", 3), ("arg", 3), ("length", 2), ("between", 3), ("succ", 2)}
    | {("compare", 3), ("sort", 2), ("msort", 2), ("memberchk", 2)}
    | {("_enum_groups", 3), ("$join", 3), ("$chars", 2), ("$integer", 2)}
)
#: ProbLog's continuous distributions (DC-ProbLog, Distributional Clauses): refused by name
DISTRIBUTIONS = frozenset({"normal", "gaussian", "uniform", "beta", "gamma", "poisson"})
DISTRIBUTIONS |= {"exponential", "laplace", "student", "dirichlet", "categorical"}
#: meta-calls: goals whose predicate is known only when they are called
META = frozenset({("call", n) for n in range(1, 9)} | {("not", 1), ("once", 1)})
#: goals that collect the answers of a goal into a list: ``findall/3`` (every answer) and
#: ``all/3`` (every answer, failing when there is none)
COLLECTIONS = frozenset({("findall", 3), ("all", 3)})
#: control constructs: goals made of goals, never atoms of their own
CONTROL = frozenset({(",", 2), (";", 2), ("\\+", 1), ("forall", 2)}) | COLLECTIONS
#: ``name<X>``, ProbLog's aggregate in the last argument of a clause head (library(aggregate))
AGGREGATE = "<>"
#: built-ins of ProbLog this front end does not implement, refused where called, and why
NOT_SUPPORTED = {
    ("findall", 4): "ProbLog has findall/3 only",
    ("aggregate_all", 3): "ProbLog has no aggregate_all/3: use findall/3 or all/3 with"
    " length/2, sum_list/2, max_list/2, or library(aggregate)'s sum<X> in a clause head",
    ("bagof", 3): "ProbLog has no bagof/3: use all/3",
    ("setof", 3): "ProbLog has no setof/3: use all/3 and sort/2",
    ("assert", 1): "assert and retract change the program while it runs",
    ("assertz", 1): "assert and retract change the program while it runs",
    ("asserta", 1): "assert and retract change the program while it runs",
    ("retract", 1): "assert and retract change the program while it runs",
    ("subquery", 2): "subqueries are not implemented",
    ("!", 0): "the cut is not part of ProbLog's semantics",
}
#: Predicates with a meaning in ProbLog that this front end does not implement: refused, since
#: reading them as ordinary facts would answer queries wrongly (none at present).
UNSUPPORTED: dict[tuple[str, int], str] = {}
#: ``query/1`` and ``evidence/1,2``: statements, never facts or heads of rules.
STATEMENTS = {
    ("query", 1): "'query(atom).'",
    ("evidence", 1): "'evidence(atom).' or 'evidence(atom, true|false).'",
    ("evidence", 2): "'evidence(atom).' or 'evidence(atom, true|false).'",
}


def is_builtin(atom: Struct) -> bool:
    """Whether ``atom`` is evaluated by the grounder (comparison, ``is``, ``true``, ``fail``,
    type checks, term and list built-ins)."""
    return atom.indicator in BUILTINS


def variables(*items: Term | Literal) -> list[Var]:
    """The distinct variables of ``items`` in order of first occurrence."""
    seen: dict[Var, None] = {}
    stack: list[Term | Literal] = list(reversed(items))
    while stack:
        t = stack.pop()
        if isinstance(t, Var):
            seen.setdefault(t)
        elif isinstance(t, Neg):
            stack.append(t.atom)
        elif isinstance(t, Struct):
            stack.extend(reversed(t.args))
    return list(seen)


_PLAIN_NAME = re.compile(r"[a-z][A-Za-z0-9_]*\Z|\"(?:[^\"\\\\\n]|\\\\.)*\"\Z")


def quote_name(name: str) -> str:
    """``name`` as it is written in a program: quoted unless a plain lowercase identifier."""
    if _PLAIN_NAME.match(name) or name == "[]":
        return name
    escaped = name.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return "'" + escaped.replace("\t", "\\t") + "'"


def _text(t: Term, nested: bool) -> str:
    """The text of ``t`` (in parentheses if ``nested`` and an operator); iterative, so terms of
    any depth print."""
    out: list[str] = []
    stack: list[str | tuple[Term, bool]] = [(t, nested)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        else:
            stack.extend(reversed(_pieces(*item)))
    return "".join(out)


def _pieces(t: Term, nested: bool) -> list[str | tuple[Term, bool]]:
    """The text of ``t`` as strings and (subterm, nested) pairs to print in their places."""
    if not isinstance(t, Struct):
        return [str(t)]
    f, args = t.functor, t.args
    if f == "." and len(args) == 2:
        pieces: list[str | tuple[Term, bool]] = ["["]
        tail: Term = t
        while isinstance(tail, Struct) and tail.functor == "." and len(tail.args) == 2:
            pieces += [",", (tail.args[0], True)] if len(pieces) > 1 else [(tail.args[0], True)]
            tail = tail.args[1]
        if tail != Struct("[]"):
            pieces += ["|", (tail, True)]
        return [*pieces, "]"]
    if len(args) == 2 and (f in ARITHMETIC or f in COMPARISONS):
        sep = f" {f} " if f in COMPARISONS or f == "mod" else f
        inner: list[str | tuple[Term, bool]] = [(args[0], True), sep, (args[1], True)]
        return ["(", *inner, ")"] if nested or f in ARITHMETIC else inner
    if not args:
        return [quote_name(f)]
    pieces = ["'[]'" if f == "[]" else quote_name(f), "("]
    for i, a in enumerate(args):
        pieces += [",", (a, True)] if i else [(a, True)]
    return [*pieces, ")"]


# --- tokenizer -------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"(?P<skip>\s+|%[^\n]*|/\*.*?\*/)"
    r"|(?P<float>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)"
    r"|(?P<radix>0x[0-9a-fA-F]+|0o[0-7]+|0b[01]+)"
    r"|(?P<int>\d+)"
    r"|(?P<var>[A-Z_][A-Za-z0-9_]*)"
    r"|(?P<name>[a-z][A-Za-z0-9_]*)"
    r"|(?P<qname>'(?:[^'\\\n]|\\.|'')*')"
    r'|(?P<string>"(?:[^"\\\n]|\\.)*")'
    r"|(?P<op>:-|::|<-|->|\\\+|=:=|=\\=|=\.\.|\\==|\\=|==|=<|>=|@=<|@>=|@<|@>|//|\*\*"
    r"|[-+*/<>=(),;|\[\]^])"
    r"|(?P<end>\.)",
    re.DOTALL,
)

# infix operator -> (priority, type); prefix operator -> priority (type fy)
_INFIX = {
    ";": (1100, "xfy"),
    ",": (1000, "xfy"),
    **{op: (700, "xfx") for op in COMPARISONS},
    "+": (500, "yfx"),
    "-": (500, "yfx"),
    "*": (400, "yfx"),
    "/": (400, "yfx"),
    "//": (400, "yfx"),
    "mod": (400, "yfx"),
    "rem": (400, "yfx"),
    "**": (200, "xfx"),
    "^": (200, "xfy"),
    "->": (1050, "xfy"),
}
_PREFIX = {"\\+": 900, "-": 200}
#: infix operator -> (priority, type), for printing terms as they are written
OPERATORS = _INFIX


class _Token(NamedTuple):
    kind: str  # int float var name qname op end eof
    text: str
    pos: int
    endpos: int


def _describe(tok: _Token) -> str:
    return "end of text" if tok.kind == "eof" else repr(tok.text)


class _Parser:
    """Recursive descent over the token list; terms by operator precedence."""

    def __init__(self, text: str, source: str):
        self.text, self.source, self.i = text, source, 0
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.tokens: list[_Token] = []
        self.anonymous = 0
        self.helpers = 0
        self.unknown_fail = False  # ':- unknown(fail).': an undefined predicate fails
        self.libraries: set[str] = set()
        self.nested = False  # a consulted file or a library: its includer finishes the program
        self.negated_queries: list[Clause] = []  # '\\+'(a) :- \\+ a, for query(\\+ a)
        self.consulted: set[str] = set()
        self.depth = 0  # terms entered and not yet finished: the nesting so far
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                if text.startswith("?::", pos):
                    raise self.error(
                        "decision-theoretic facts (?::) are outside nesy's semantics: it answers"
                        " probabilistic queries (ProbLog's DTProbLog mode is not supported)",
                        pos,
                    )
                what = "unterminated quoted atom" if text[pos] == "'" else "unexpected character"
                raise self.error(f"{what} {text[pos]!r}", pos)
            if m.lastgroup != "skip":
                self.tokens.append(_Token(m.lastgroup or "", m[0], pos, m.end()))
            pos = m.end()
        self.tokens.append(_Token("eof", "", len(text), len(text)))

    # --- helpers -----------------------------------------------------------------------------
    def where(self, pos: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, pos)
        return line, pos - self.line_starts[line - 1] + 1

    def location(self, tok: _Token) -> Location:
        return Location(self.source, *self.where(tok.pos))

    def error(self, message: str, at: _Token | int) -> NesySyntaxError:
        pos = at if isinstance(at, int) else at.pos
        return NesySyntaxError(message, self.text, *self.where(pos), self.source)

    def peek(self, k: int = 0) -> _Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def next(self) -> _Token:
        tok = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def at(self, text: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == "op" and tok.text == text

    def close(self, closer: str, opener: _Token) -> None:
        if self.at(closer):
            self.next()
            return
        tok = self.peek()
        line, col = self.where(opener.pos)
        raise self.error(
            f"unbalanced parenthesis: expected {closer!r} to close the {opener.text!r} at"
            f" {line}:{col}, found {_describe(tok)}",
            tok,
        )

    def deeper(self, levels: int = 1) -> None:
        """Enter ``levels`` more levels of nesting; a :class:`NestingError` past the limit."""
        self.depth += levels
        if self.depth > MAX_NESTING:
            message = f"term nested deeper than {MAX_NESTING} levels"
            raise NestingError(message, self.text, *self.where(self.peek().pos), self.source)

    # --- terms -------------------------------------------------------------------------------
    def term(self, max_priority: int) -> Term:
        self.deeper()
        levels = 1  # how much deeper than the caller the term built so far nests
        left, priority = self.primary(max_priority)
        while True:
            tok = self.peek()
            spec = _INFIX.get(tok.text) if tok.kind in ("op", "name") else None
            p, kind = spec or (max_priority + 1, "")
            if p > max_priority or priority > (p - 1 if kind[0] == "x" else p):
                self.depth -= levels
                return left
            self.next()
            right = self.term(p - 1 if kind[2] == "x" else p)
            left, priority = Struct(tok.text, (left, right)), p
            self.deeper()  # a left-nested chain (1 + 2 + 3) nests one level per operator
            levels += 1

    def primary(self, max_priority: int) -> tuple[Term, int]:
        tok = self.next()
        if tok.kind == "int":
            return Int(int(tok.text)), 0
        if tok.kind == "radix":
            return Int(int(tok.text, 0)), 0
        if tok.kind == "float":
            return Float(float(tok.text)), 0
        if tok.kind == "var":
            if tok.text == "_":
                self.anonymous += 1
                return Var(f"_{self.anonymous}"), 0
            return Var(tok.text), 0
        if tok.kind == "string":  # a string is the constant named by its quoted text
            return Struct(tok.text), 0
        if tok.kind in ("name", "qname"):
            name = tok.text if tok.kind == "name" else _unquote(tok.text)
            if self.at("(") and self.peek().pos == tok.endpos:
                opener = self.next()
                args = [self.term(999)]
                while self.at(","):
                    self.next()
                    args.append(self.term(999))
                self.close(")", opener)
                return Struct(name, tuple(args)), 0
            if (  # name<X>: an aggregate of library(aggregate), in a clause head
                self.at("<")
                and self.peek().pos == tok.endpos
                and self.peek(1).kind == "var"
                and self.at(">", 2)
            ):
                self.next()
                var, _ = self.primary(0)
                self.next()
                return Struct(AGGREGATE, (Struct(name), var)), 0
            return Struct(name), 0
        if tok.kind == "op" and tok.text == "(":
            inner = self.term(1200)
            self.close(")", tok)
            return inner, 0
        if tok.kind == "op" and tok.text == "[":
            return self.list_rest(tok), 0
        if (
            tok.kind == "op"
            and (tok.text in _INFIX or tok.text in _PREFIX)
            and self.peek().text
            in (
                ",",
                ")",
                "]",
                "|",
            )
        ):
            return Struct(tok.text), 0  # an operator standing alone is an atom: join(-, L, S)
        if tok.kind == "op" and tok.text in _PREFIX:
            nxt = self.peek()
            if tok.text == "-" and nxt.kind in ("int", "float") and nxt.pos == tok.endpos:
                self.next()
                return (Int(-int(nxt.text)) if nxt.kind == "int" else Float(-float(nxt.text))), 0
            p = _PREFIX[tok.text]
            if p <= max_priority:
                return Struct(tok.text, (self.term(p),)), p
        raise self.error(f"unexpected {_describe(tok)}", tok)

    def list_rest(self, opener: _Token) -> Term:
        if self.at("]"):
            self.next()
            return Struct("[]")
        items = [self.term(999)]
        while self.at(","):
            self.next()
            self.deeper()  # each element nests one level deeper: '.'(a, '.'(b, ...))
            items.append(self.term(999))
        tail: Term = Struct("[]")
        if self.at("|"):
            self.next()
            tail = self.term(999)
        self.close("]", opener)
        self.depth -= len(items) - 1
        for item in reversed(items):
            tail = Struct(".", (item, tail))
        return tail

    # --- statements --------------------------------------------------------------------------
    def program(self) -> Program:
        self.clauses: list[Clause] = []
        self.ads: list[AnnotatedDisjunction] = []
        self.neural: list[NeuralPredicate] = []
        self.queries: list[Query] = []
        self.evidences: list[Evidence] = []
        while self.peek().kind != "eof":
            self.statement()
        if not self.nested:
            self.negative_heads()
        return Program(
            tuple(self.clauses + self.negated_queries),
            tuple(self.ads),
            tuple(self.neural),
            tuple(self.queries),
            self.source,
            tuple(self.evidences),
            self.unknown_fail,
        )

    def end(self) -> None:
        tok = self.peek()
        if tok.kind == "end":
            self.next()
            return
        if tok.kind == "op" and tok.text in ")]":
            raise self.error(f"unbalanced parenthesis: unexpected {tok.text!r}", tok)
        after = self.tokens[self.i - 1].endpos if self.i else 0
        raise self.error(f"missing '.' at the end of the clause (found {_describe(tok)})", after)

    def head_item(self) -> tuple[float | Term | None, Struct, _Token, Struct | None]:
        """``p::atom``, ``nn(...)::atom`` or ``atom``: (probability, atom, first token, nn spec).
        ``p`` is a number, an arithmetic expression (``1/3``) or a term with variables that the
        body binds (``P``, evaluated for each instance)."""
        tok = self.peek()
        term = self.term(999)
        if not self.at("::"):
            return None, self.checked_head(term, tok), tok, None
        self.next()
        if isinstance(term, Struct) and term.functor == "nn":
            return None, self.atom(self.peek()), tok, term
        return self.probability(term, tok), self.atom(self.peek()), tok, None

    def probability(self, term: Term, tok: _Token) -> float | Term:
        """The probability ``term`` before ``::``: a value in [0, 1] when ground, else the term
        itself (the grounder evaluates it once the body has bound its variables)."""
        if variables(term):
            return term
        try:
            value = float(evaluate(_internal(term)))
        except NotArithmetic:
            if isinstance(term, Struct) and term.functor in DISTRIBUTIONS:
                raise self.error(
                    f"{_text(term, True)}: continuous distributions are outside nesy's semantics"
                    " (discrete probabilistic facts and neural predicates only)",
                    tok,
                ) from None
            raise self.error(
                f"expected a probability or nn(...) before '::', found {_text(term, True)}", tok
            ) from None
        if not 0.0 <= value <= 1.0:
            raise self.error(f"probability {value:g} is not in [0, 1]", tok)
        return value

    def atom(self, tok: _Token) -> Struct:
        return self.checked_head(self.term(999), tok)

    def checked_head(self, term: Term, tok: _Token, what: str = "a clause head") -> Struct:
        if not isinstance(term, Struct):
            raise self.error(f"{what} must be an atom, found {_describe(tok)}", tok)
        if term.indicator == ("\\+", 1) and what == "a clause head":
            self.checked_head(term.args[0], tok, what)
            return term  # a negative head literal: see negative_heads()
        if term.indicator == ("\\+", 1):
            negated = _text(term.args[0], True)
            raise self.error(f"{what} cannot be negated: \\+ {negated} is not supported", tok)
        if (
            is_builtin(term)
            or term.indicator in META
            or term.indicator in NOT_SUPPORTED
            or term.indicator in CONTROL
        ):
            name, arity = term.indicator
            raise self.error(f"cannot define the built-in {name}/{arity}", tok)
        return term

    def reserved(self, items: list, plain: bool) -> None:
        """Refuse the predicates with a meaning this front end does not implement, and
        ``query/1``, ``evidence/1,2`` anywhere but in a plain statement: never read them as
        facts."""
        for _, head, tok, _ in items:
            name, arity = head.indicator
            if head.indicator in UNSUPPORTED:
                raise self.error(
                    f"{name}/{arity} is not supported: {UNSUPPORTED[head.indicator]}", tok
                )
            if head.indicator in STATEMENTS and not plain:
                raise self.error(
                    f"{name}/{arity} is written {STATEMENTS[head.indicator]}, alone", tok
                )

    def evidence(self, head: Struct, tok: _Token, loc: Location) -> Evidence:
        """``evidence(a)``, ``evidence(\\+ a)``, ``evidence(a, true)``, ``evidence(a, false)``:
        ground atoms only, as in ProbLog."""
        term, value = head.args[0], True
        if len(head.args) == 2:
            flag = head.args[1]
            if flag not in (Struct("true"), Struct("false")):
                raise self.error(
                    f"the value of evidence must be true or false, found {_text(flag, True)}",
                    tok,
                )
            value = flag == Struct("true")
            if isinstance(term, Struct) and term.indicator == ("\\+", 1):
                raise self.error(
                    "evidence(\\+ atom, ...) is not supported: write evidence(atom, false)", tok
                )
        elif isinstance(term, Struct) and term.indicator == ("\\+", 1):
            term, value = term.args[0], False
        if not isinstance(term, Struct) or term.indicator == ("\\+", 1):
            raise self.error(f"evidence must be on an atom, found {_text(term, True)}", tok)
        if is_builtin(term):
            name, arity = term.indicator
            raise self.error(f"evidence on the built-in {name}/{arity} is not supported", tok)
        atom = self.checked_head(term, tok, "evidence")
        free = variables(atom)
        if free:
            names = ", ".join(v.name for v in free)
            raise self.error(f"evidence must be ground: {atom} has the variable(s) {names}", tok)
        return Evidence(atom, value, loc)

    def statement(self) -> None:
        start = self.peek()
        loc = self.location(start)
        if start.kind == "op" and start.text == ":-":
            self.next()
            goal = self.term(1200)
            self.end()
            self.directive(goal, start)
            return
        items = [self.head_item()]
        while self.at(";"):
            self.next()
            items.append(self.head_item())
        body: Term | None = None
        if self.at(":-") or self.at("<-"):
            body_tok = self.next()
            body = self.term(1200)
        self.end()
        if any(_aggregates(h) for _, h, _, _ in items) or body and _aggregates(body):
            prob, head, tok, nn = items[0]
            head, body = self.aggregate(head, body, len(items) == 1 and prob is None, tok)
            items[0] = (prob, head, tok, nn)
        bodies = [()] if body is None else self.dnf(body, body_tok)
        outside = [t for p, h, _, _ in items for t in (h, p) if isinstance(t, (Struct, Var))]
        bodies = [self.existentials(b, outside, loc, start) for b in bodies]
        prob, head, tok, nn = items[0]
        self.reserved(items, len(items) == 1 and prob is None and nn is None)
        if len(items) > 1:
            probs = []
            for p, _, t, _ in items:
                if p is None:
                    raise self.error("each head of an annotated disjunction needs a probability", t)
                probs.append(p)
            if all(isinstance(p, float) for p in probs) and sum(probs) > 1.0 + 1e-9:
                raise self.error(
                    f"the probabilities of the disjunction sum to {sum(probs):g} > 1", start
                )
            heads = tuple(h for _, h, _, _ in items)
            body = self.single_body(bodies, heads, loc)
            self.ads.append(AnnotatedDisjunction(heads, tuple(probs), body, loc))
        elif nn is not None:
            if bodies != [()]:
                raise self.error("a neural predicate declaration has no body", start)
            self.neural.append(self.neural_predicate(nn, head, tok, loc))
        elif prob is not None:
            self.clauses.append(Clause(head, self.single_body(bodies, (head,), loc), prob, loc))
        elif head.indicator == ("query", 1):
            target = head.args[0]
            negated = isinstance(target, Struct) and target.indicator == ("\\+", 1)
            atom = self.checked_head(target.args[0] if negated else target, tok, "a query")
            if negated:  # query(\+ a): the atom '\+'(a), true when a is false
                if variables(atom):
                    raise self.error(f"a negated query must be ground: \\+ {atom}", tok)
                self.negated_queries.append(Clause(target, (Neg(atom),), None, loc))
                atom = target
            via = None
            if bodies != [()]:  # query(X) :- Goal: a helper holds the instances of X
                via = Struct(f"_query{self.helpers}", (atom,))
                self.helpers += 1
                self.clauses.extend(Clause(via, b, None, loc) for b in bodies)
            self.queries.append(Query(atom, loc, via))
        elif head.indicator in (("evidence", 1), ("evidence", 2)):
            if bodies != [()]:
                raise self.error(f"evidence/{len(head.args)} takes no body", start)
            self.evidences.append(self.evidence(head, tok, loc))
        else:
            self.clauses.extend(Clause(head, b, None, loc) for b in bodies)

    def aggregate(
        self, head: Struct, body: Term | None, plain: bool, tok: _Token
    ) -> tuple[Struct, Term]:
        """ProbLog's ``h(G..., sum<X>) :- Body.`` (library(aggregate)): for each group G...
        of the body's answers, h(G..., S) with S the sum (``avg``, ``min``, ``max``, or any
        predicate of a list and a result) of X over the group's answers in a world, as
        ``h(G..., S) :- all([[G...], X], Body, L), _enum_groups(L, [G...], Xs), call(sum, Xs,
        S).``"""
        *group, last = head.args or (None,)
        if (
            not plain
            or body is None
            or not (isinstance(last, Struct) and last.functor == AGGREGATE)
            or any(_aggregates(t) for t in group)
            or _aggregates(body)
        ):
            raise self.error(
                "an aggregate such as sum<X> is the last argument of the head of a rule, and"
                " nowhere else",
                tok,
            )
        if "aggregate" not in self.libraries:
            raise self.error(
                f"{_text(last.args[0], True)}<{last.args[1]}> in a clause head needs"
                " ':- use_module(library(aggregate)).' first",
                tok,
            )
        function, var = last.args
        fresh = [Var(f"_{name}{self.helpers}") for name in ("Result", "Answers", "Values")]
        self.helpers += 1
        result, answers, values = fresh
        keys = _list(group)
        goal = Struct(
            ",",
            (
                Struct("all", (_list([keys, var]), body, answers)),
                Struct(
                    ",",
                    (
                        Struct("_enum_groups", (answers, keys, values)),
                        Struct("call", (function, values, result)),
                    ),
                ),
            ),
        )
        return Struct(head.functor, (*group, result)), goal

    def negative_heads(self) -> None:
        """ProbLog's negative head literals, ``p::\\+ a :- body.``: a derivation of a holds
        unless one of them fires. The clauses of ``a`` become ``_pos_a`` and those of ``\\+ a``
        become ``_neg_a``, and ``a(X...) :- _pos_a(X...), \\+ _neg_a(X...).``"""
        negated = {}
        for c in self.clauses:
            if c.head.indicator == ("\\+", 1):
                negated.setdefault(c.head.args[0].indicator, c.location)
        if not negated:
            return
        for nn in self.neural:
            if nn.head.indicator in negated:
                raise NesyError(
                    f"{negated[nn.head.indicator]}: a negative head on the neural predicate"
                    f" {nn.head.functor}/{len(nn.head.args)} is not supported"
                )
        for a in self.ads:
            for h in a.heads:
                if h.indicator == ("\\+", 1):
                    raise NesyError(
                        f"{a.location}: a negative head in a disjunction is not supported"
                    )

        def renamed(atom: Struct, prefix: str) -> Struct:
            return Struct(prefix + atom.functor, atom.args)

        positive: set[tuple[str, int]] = set()
        clauses = []
        for c in self.clauses:
            if c.head.indicator == ("\\+", 1):
                c = replace(c, head=renamed(c.head.args[0], "_neg_"))
            elif c.head.indicator in negated:
                c = replace(c, head=renamed(c.head, "_pos_"))
                positive.add(c.head.indicator)
            clauses.append(c)
        self.ads = [
            replace(
                a,
                heads=tuple(renamed(h, "_pos_") if h.indicator in negated else h for h in a.heads),
            )
            for a in self.ads
        ]
        positive |= {h.indicator for a in self.ads for h in a.heads}
        for (name, arity), loc in negated.items():
            if ("_pos_" + name, arity) in positive:
                xs = tuple(Var(f"X{i}") for i in range(arity))
                body = (Struct("_pos_" + name, xs), Neg(Struct("_neg_" + name, xs)))
                clauses.append(Clause(Struct(name, xs), body, None, loc))
        self.clauses = clauses

    def directive(self, goal: Term, tok: _Token) -> None:
        """``:- use_module(library(L))``, ``:- use_module(File)``, ``:- consult(File)`` (also
        ``:- [File]``) and ``:- unknown(fail)``; any other directive is refused by name."""
        if isinstance(goal, Struct) and goal.indicator == ("use_module", 1):
            target = goal.args[0]
            if (
                isinstance(target, Struct)
                and target.indicator[1] == 1
                and target.functor == "library"
            ):
                name = target.args[0]
                library = name.functor if isinstance(name, Struct) and not name.args else None
                if library not in LIBRARIES:
                    why = UNSUPPORTED_LIBRARIES.get(library)
                    raise self.error(
                        f"library({_text(name, True)}) is not supported"
                        + (f" ({why})" if why else "")
                        + f": nesy has the libraries {', '.join(sorted(LIBRARIES))}",
                        tok,
                    )
                if library not in self.libraries:
                    self.libraries.add(library)
                    self.include(LIBRARIES[library], f"library({library})", tok)
                return
            return self.consult(target, tok)
        if isinstance(goal, Struct) and goal.indicator == ("consult", 1):
            return self.consult(goal.args[0], tok)
        files = _proper_list(goal)
        if files:
            for target in files:
                self.consult(target, tok)
            return
        if goal == Struct("unknown", (Struct("fail"),)):
            self.unknown_fail = True
            return
        raise self.error(
            f"unknown directive :- {_text(goal, True)}: nesy reads use_module/1, consult/1 and"
            " unknown(fail)",
            tok,
        )

    def consult(self, target: Term, tok: _Token) -> None:
        """Read the program in the file ``target`` (relative to this program's folder) into
        this one."""
        if not (isinstance(target, Struct) and not target.args):
            raise self.error(f"consult needs a file name, found {_text(target, True)}", tok)
        folder = Path(self.source).parent if Path(self.source).exists() else Path(".")
        path = (folder / target.functor).resolve()
        if not path.exists() and path.with_suffix(".pl").exists():
            path = path.with_suffix(".pl")
        if str(path) in self.consulted:
            return
        self.consulted.add(str(path))
        try:
            text = read_text(path)
        except OSError as e:
            raise self.error(f"cannot consult {target.functor}: {e.strerror or e}", tok) from None
        self.include(text, str(path), tok)

    def include(self, text: str, source: str, tok: _Token) -> None:
        """Parse ``text`` (a consulted file, a library) into this program."""
        inner = _Parser(text, source)
        inner.nested = True
        inner.helpers, inner.libraries, inner.consulted = (
            self.helpers,
            self.libraries,
            self.consulted,
        )
        inner.program()
        self.helpers = inner.helpers
        self.unknown_fail |= inner.unknown_fail
        self.clauses.extend(inner.clauses)
        self.negated_queries.extend(inner.negated_queries)
        self.ads.extend(inner.ads)
        self.neural.extend(inner.neural)
        self.queries.extend(inner.queries)
        self.evidences.extend(inner.evidences)

    def existentials(
        self, body: tuple[Literal, ...], outside: list[Term], loc: Location, tok: _Token
    ) -> tuple[Literal, ...]:
        """``\\+ G`` and ``once(G)`` where some variables of G occur nowhere else in the clause
        (``\\+ path(X, _)``: no path from X to anything), or where G is a conjunction (also
        from ``forall(C, A)``, read as ``\\+ (C, \\+ A)``): G becomes a helper predicate over
        its other variables, ``_exists<n>(X) :- path(X, _).``, so that the helper holds when
        some values of the local variables make G true, as ProbLog reads them. The goal of a
        findall/3 or all/3 becomes a helper predicate too (:meth:`collection`)."""
        out: list[Literal] = []
        for i, lit in enumerate(body):
            goal = lit.atom if isinstance(lit, Neg) else lit
            others = set(variables(*outside, *(b for j, b in enumerate(body) if j != i)))
            if goal.indicator in COLLECTIONS and not isinstance(lit, Neg):
                out.append(self.collection(goal, others, loc, tok))
                continue
            once = goal.indicator == ("once", 1) and not isinstance(lit, Neg)
            inner = goal.args[0] if once else goal
            if not (isinstance(lit, Neg) or once) or not isinstance(inner, Struct):
                out.append(lit)
                continue
            shared = [v for v in variables(inner) if v in others]
            if len(shared) == len(variables(inner)) and inner.indicator not in CONTROL:
                out.append(lit)
                continue
            helper = Struct(f"_exists{self.helpers}", tuple(shared))
            self.helpers += 1
            self.helper_clauses(helper, self.dnf(inner, tok), loc, tok)
            out.append(Struct("once", (helper,)) if once else Neg(helper))
        return tuple(out)

    def helper_clauses(
        self, helper: Struct, bodies: list[tuple[Literal, ...]], loc: Location, tok: _Token
    ) -> None:
        """The clauses ``helper :- body`` of a helper predicate, their negations of goals
        with local variables made helpers in turn."""
        for b in bodies:
            self.clauses.append(Clause(helper, self.existentials(b, [helper], loc, tok), None, loc))

    def collection(self, goal: Struct, others: set[Var], loc: Location, tok: _Token) -> Struct:
        """``findall(T, G, L)`` or ``all(T, G, L)`` with G made a helper predicate over T and
        the variables of G that G binds or the clause shares, ``_collect<n>(T, X...) :- G.``:
        the grounder lists the helper's answers (one per binding of those variables, as
        ProbLog's findall/3 takes them)."""
        template, inner, result = goal.args
        bound = _bound_by(inner)
        kept = [v for v in variables(inner) if v in bound or v in others]
        helper = Struct(f"_collect{self.helpers}", (template, *kept))
        self.helpers += 1
        self.helper_clauses(helper, self.dnf(inner, tok), loc, tok)
        return Struct(goal.functor, (template, helper, result))

    def single_body(
        self, bodies: list[tuple[Literal, ...]], heads: tuple[Struct, ...], loc: Location
    ) -> tuple[Literal, ...]:
        """One conjunction; a disjunctive body becomes a helper predicate over all variables."""
        if len(bodies) == 1:
            return bodies[0]
        literals = [lit for b in bodies for lit in b]
        helper = Struct(f"_body{self.helpers}", tuple(variables(*heads, *literals)))
        self.helpers += 1
        self.clauses.extend(Clause(helper, b, None, loc) for b in bodies)
        return (helper,)

    def dnf(self, t: Term, tok: _Token) -> list[tuple[Literal, ...]]:
        """The body ``t`` as a disjunction of conjunctions of literals."""
        if isinstance(t, Struct) and t.indicator == (",", 2):
            return [a + b for a, b in product(self.dnf(t.args[0], tok), self.dnf(t.args[1], tok))]
        if isinstance(t, Struct) and t.indicator == (";", 2):
            return self.dnf(t.args[0], tok) + self.dnf(t.args[1], tok)
        if isinstance(t, Struct) and t.indicator == ("\\+", 1):
            inner = self.dnf(t.args[0], tok)
            if any(len(c) != 1 for c in inner):  # existentials() makes it a helper predicate
                return [(Neg(t.args[0]),)]
            return [tuple(c[0].atom if isinstance(c[0], Neg) else Neg(c[0]) for c in inner)]
        if isinstance(t, Struct) and t.indicator == ("forall", 2):  # \+ (Cond, \+ Action)
            cond, action = t.args
            return self.dnf(Struct("\\+", (Struct(",", (cond, Struct("\\+", (action,)))),)), tok)
        if isinstance(t, Struct) and t.indicator == ("->", 2):
            raise self.error(
                "if-then-else ( -> ) is not part of ProbLog's language: write the two cases as"
                " clauses, the second with \\+ of the condition",
                tok,
            )
        if not isinstance(t, Struct):
            raise self.error(f"{t} is not a goal", tok)
        return [(t,)]

    def neural_predicate(
        self, spec: Struct, head: Struct, tok: _Token, loc: Location
    ) -> NeuralPredicate:
        if len(spec.args) != 4:
            raise self.error("expected nn(Net, [Inputs...], Output, [Values...])", tok)
        net, inputs, output, domain = spec.args
        if not (isinstance(net, Struct) and not net.args):
            raise self.error(f"the network name {net} must be a constant", tok)
        ins, dom = _proper_list(inputs), _proper_list(domain)
        if ins is None or dom is None:
            raise self.error("the inputs and values of nn(...) must be lists", tok)
        if not isinstance(output, Var):
            raise self.error(f"the output {output} of nn(...) must be a variable", tok)
        if variables(*dom):
            raise self.error("the values of nn(...) must be ground", tok)
        extra = [v for v in variables(head) if v not in set(variables(*ins, output))]
        if output not in variables(head) or extra:
            raise self.error(f"the head {head} must use the inputs and output of nn(...)", tok)
        return NeuralPredicate(net.functor, tuple(ins), output, tuple(dom), head, loc)


def _aggregates(t: Term) -> bool:
    """Whether ``t`` holds an aggregate ``name<X>``."""
    return isinstance(t, Struct) and (t.functor == AGGREGATE or any(map(_aggregates, t.args)))


def _list(items: list[Term]) -> Struct:
    out = Struct("[]")
    for item in reversed(items):
        out = Struct(".", (item, out))
    return out


def _bound_by(goal: Term) -> set[Var]:
    """The variables that proving ``goal`` binds: not those only under a negation, nor the
    template and goal of a nested findall/3 or all/3."""
    if isinstance(goal, Struct) and goal.indicator in ((",", 2), (";", 2)):
        return _bound_by(goal.args[0]) | _bound_by(goal.args[1])
    if isinstance(goal, Struct) and goal.indicator in (("\\+", 1), ("forall", 2)):
        return set()
    if isinstance(goal, Struct) and goal.indicator in COLLECTIONS:
        return set(variables(goal.args[2]))
    return set(variables(goal))


def _internal(t: Term) -> object:
    """``t`` as the grounder's terms (numbers, atoms as ``str``, compounds as tuples)."""
    if isinstance(t, (Int, Float)):
        return t.value
    if isinstance(t, Struct):
        return (t.functor, *map(_internal, t.args)) if t.args else t.functor
    return t


def _unquote(text: str) -> str:
    body = text[1:-1].replace("''", "'")
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), body)


def _proper_list(t: Term) -> list[Term] | None:
    items = []
    while isinstance(t, Struct) and t.functor == "." and len(t.args) == 2:
        items.append(t.args[0])
        t = t.args[1]
    return items if t == Struct("[]") else None


# --- public entry points ---------------------------------------------------------------------
def parse_program(text: str, source: str = "<program>") -> Program:
    """Parse a program; a :class:`NesySyntaxError` gives ``source:line:column``.

    What the front end does not implement (negative heads, directives, ``<-``) is refused at
    its place, never read as something else.
    """
    with recursion_room():
        return _Parser(text, source).program()


def load_program(path: str | Path) -> Program:
    """Parse the program in the UTF-8 file ``path``."""
    return parse_program(read_text(path), str(path))


def parse_evidence(text: str, source: str = "--evidence") -> Evidence:
    """Evidence as the command line writes it: ``atom``, ``atom=true``, ``atom=false`` or
    ``\\+atom`` (a ground atom, as in ``evidence/1,2``)."""
    body, flag = text.strip(), None
    given = re.search(r"\s*=\s*([a-z]\w*)\Z", body)
    if given:
        body, flag = body[: given.start()], Struct(given[1])
    parser = _Parser(body, source)
    with recursion_room():
        term = parser.term(999)
    if parser.peek().kind != "eof":
        raise parser.error(f"unexpected {_describe(parser.peek())} after the atom", parser.peek())
    head = Struct("evidence", (term,) if flag is None else (term, flag))
    return parser.evidence(head, parser.tokens[0], Location(source, 1, 1))


def parse_term(text: str, source: str = "<term>") -> Term:
    """Parse one term, e.g. a query ``addition([tensor(a)], [tensor(b)], Z)``."""
    parser = _Parser(text, source)
    with recursion_room():
        term = parser.term(1200)
    if parser.peek().kind == "end":
        parser.next()
    if parser.peek().kind != "eof":
        raise parser.error(f"unexpected {_describe(parser.peek())} after the term", parser.peek())
    return term
