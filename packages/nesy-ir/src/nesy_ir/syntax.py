"""The text syntax of DeepLog formulas: :func:`parse` and :func:`to_text` (docs/language.md).

A hand-written tokenizer and recursive-descent parser. Nodes are built with the validating
constructors of :mod:`nesy_ir.nodes`; their errors come back, same class, prefixed with the
``source:line:column`` of the construct that failed. ``parse(to_text(f)) is f`` holds for every
node whose names can be written: predicates, constants, structures and aggregators lowercase
identifiers, variables capitalised; no predicate ``true``/``false``/``inf`` without arguments nor
``tau`` with a reification; no (+)/(x) application with a single child.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

from .errors import (
    NestingError,
    NesyError,
    NesySyntaxError,
    StructureMismatchError,
    UnknownOperationError,
)
from .nesting import MAX_NESTING, recursion_room
from .nodes import Kind, Node, aggregate, apply, atom, const, transform
from .registry import get_algebra
from .terms import BOOL_DOMAIN, TensorConst, Term, Var

__all__ = ["parse", "to_text"]

_TOKEN = re.compile(
    r"(?P<skip>\s+|\#[^\n]*)"
    r"|(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<var>[A-Z_][A-Za-z0-9_]*)"
    r"|(?P<name>[a-z][A-Za-z0-9_]*)"
    r"|(?P<op>->|[-+*~()\[\]{},:@])",
    re.ASCII,
)


class _Token(NamedTuple):
    kind: str  # 'num', 'var', 'name', 'eof', or the operator itself
    text: str
    pos: int


def _describe(tok: _Token) -> str:
    return "end of text" if tok.kind == "eof" else repr(tok.text)


class _Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, text: str, source: str):
        self.text, self.source, self.i = text, source, 0
        self.depth = 0  # formulas entered and not yet finished: the nesting so far
        self.tokens: list[_Token] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                raise self.error(f"unexpected character {text[pos]!r}", _Token("?", "", pos))
            kind = m.lastgroup
            if kind != "skip":
                self.tokens.append(_Token(m[0] if kind == "op" else kind, m[0], pos))
            pos = m.end()
        self.tokens.append(_Token("eof", "", len(text)))

    # --- helpers ---------------------------------------------------------------------------
    def peek(self, k: int = 0) -> _Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def next(self) -> _Token:
        tok = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def at(self, kind: str, k: int = 0) -> bool:
        return self.peek(k).kind == kind

    def at_word(self, *words: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == "name" and tok.text in words

    def expect(self, kind: str, message: str | None = None) -> _Token:
        if not self.at(kind):
            what = {"name": "a name", "var": "a variable", "num": "a number"}.get(kind, repr(kind))
            tok = self.peek()
            raise self.error(message or f"expected {what}, found {_describe(tok)}", tok)
        return self.next()

    def where(self, tok: _Token) -> tuple[int, int]:
        line = self.text.count("\n", 0, tok.pos) + 1
        return line, tok.pos - self.text.rfind("\n", 0, tok.pos)

    def error(self, message: str, tok: _Token) -> NesySyntaxError:
        return NesySyntaxError(message, self.text, *self.where(tok), self.source)

    def located(self, tok: _Token, e: NesyError) -> NesyError:
        """``e`` again (same class) with its message prefixed by ``source:line:col``."""
        line, column = self.where(tok)
        err = type(e)(f"{self.source}:{line}:{column}: {e}")
        err.line, err.column, err.source = line, column, self.source
        return err

    def build(self, tok: _Token, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except NesySyntaxError:
            raise
        except NesyError as e:
            raise self.located(tok, e) from None

    # --- grammar ---------------------------------------------------------------------------
    def formula(self) -> Node:
        return self.chain("+", "plus", self.product)

    def product(self) -> Node:
        return self.chain("*", "times", self.unary)

    def chain(self, op: str, role: str, operand: Callable[[], Node]) -> Node:
        operands, ops = [operand()], []
        while self.at(op):
            ops.append(self.next())
            operands.append(operand())
        if not ops:
            return operands[0]
        first = operands[0].structure
        bad = next((i for i, c in enumerate(operands[1:]) if c.structure != first), 0)
        return self.build(ops[bad], apply, role, *operands)

    def unary(self) -> Node:
        """Every level of nesting (parentheses, ``~``, aggregation, ``tau``) passes here."""
        if self.depth >= MAX_NESTING:
            message = f"formula nested deeper than {MAX_NESTING} levels"
            raise NestingError(message, self.text, *self.where(self.peek()), self.source)
        self.depth += 1
        if self.at("~"):
            tok = self.next()
            node = self.build(tok, apply, "neg", self.unary())
        else:
            node = self.primary()
        self.depth -= 1
        return node

    def primary(self) -> Node:
        tok = self.peek()
        if tok.kind == "(":
            self.next()
            node = self.formula()
            self.expect(")")
            return node
        if tok.kind in ("num", "-") or (self.at_word("true", "false", "inf") and self.at("@", 1)):
            return self.constant()
        if tok.kind == "name":
            if tok.text == "tau" and self.at("[", 1):
                return self.transformation()
            if self.at("var", 1):
                return self.quantified()
            return self.atom()
        raise self.error(f"expected a formula, found {_describe(tok)}", tok)

    def quantified(self) -> Node:
        agg, var = self.next(), self.next()
        if not self.at_word("in"):
            raise self.error(f"expected 'in' after {agg.text} {var.text}", self.peek())
        self.next()
        if self.at_word("bool"):
            self.next()
            domain: str | tuple = BOOL_DOMAIN
        else:
            self.expect("{", "expected a domain: bool or {c1, c2, ...}")
            domain = tuple(self.sequence(self.constant_term, "}"))
        self.expect(":")
        body = self.formula()
        return self.build(agg, aggregate, agg.text, var.text, domain, body)

    def transformation(self) -> Node:
        tau = self.next()
        self.expect("[")
        source = self.expect("name", "expected the source structure of tau")
        self.expect("->")
        target = self.expect("name", "expected the target structure of tau")
        self.expect("]")
        self.build(source, get_algebra, source.text)
        self.build(target, get_algebra, target.text)
        self.expect("(")
        child = self.formula()
        self.expect(")")
        if child.structure != source.text:
            raise self.located(
                tau,
                StructureMismatchError(
                    f"tau[{source.text}->{target.text}] applied to a formula of structure"
                    f" {child.structure!r}"
                ),
            )
        return self.build(tau, transform, child, target.text)

    def constant(self) -> Node:
        start = tok = self.next()
        sign = 1.0
        if tok.kind == "-":
            sign, tok = -1.0, self.next()
        value: float | bool
        if tok.kind == "num":
            value = sign * float(tok.text)
        elif tok.text == "inf":
            value = sign * float("inf")
        elif tok.text in ("true", "false") and start is tok:
            value = tok.text == "true"
        else:
            raise self.error(f"expected a number after '-', found {_describe(tok)}", tok)
        structure = self.structure(f"missing '@structure' after constant {tok.text}")
        return self.build(start, const, value, structure)

    def atom(self) -> Node:
        tok = self.next()
        args: list[Term] = []
        if self.at("("):
            self.next()
            args = self.sequence(self.term, ")")
        rvar: Var | bool | None = None
        if self.at("["):
            self.next()
            r = self.next()
            if r.kind == "var":
                rvar = Var(r.text)
            elif r.kind == "name" and r.text in ("true", "false"):
                rvar = r.text == "true"
            else:
                raise self.error(f"expected a variable, true or false, found {_describe(r)}", r)
            self.expect("]")
        structure = self.structure(f"missing '@structure' after atom {tok.text}")
        return self.build(tok, atom, tok.text, args, structure, rvar)

    def sequence(self, item: Callable[[], Any], close: str) -> list:
        """``item (',' item)* close``."""
        items = [item()]
        while self.at(","):
            self.next()
            items.append(item())
        self.expect(close)
        return items

    def structure(self, message: str) -> str:
        self.expect("@", message)
        return self.expect("name", "expected a structure name after '@'").text

    def term(self) -> Term:
        if self.at("var"):
            return Var(self.next().text)
        if self.at_word("tensor") and self.at("(", 1):
            self.i += 2
            name = self.expect("name", "expected the name of a tensor constant").text
            self.expect(")")
            return TensorConst(name)
        return self.constant_term()

    def constant_term(self) -> str | int:
        if self.at("name"):
            return self.next().text
        tok = self.next()
        sign = -1 if tok.kind == "-" else 1
        if sign < 0:
            tok = self.next()
        if tok.kind != "num" or not tok.text.isdigit():
            raise self.error(f"expected a constant (name or integer), found {_describe(tok)}", tok)
        return sign * int(tok.text)


def parse(text: str, source: str = "<formula>") -> Node:
    """The formula written in ``text``; ``source`` names it in error messages."""
    parser = _Parser(text, source)
    with recursion_room(8 * MAX_NESTING + 1000):  # at most 7 frames per level of nesting
        node = parser.formula()
    if not parser.at("eof"):
        tok = parser.peek()
        raise parser.error(f"unexpected {_describe(tok)} after the formula", tok)
    return node


# --- printing ----------------------------------------------------------------------------------


def _term(t: Term) -> str:
    return f"tensor({t.name})" if isinstance(t, TensorConst) else str(t)


def to_text(node: Node) -> str:
    """The canonical one-line text of ``node``; :func:`parse` reads it back to ``node``.

    Iterative (an explicit stack), so formulas of any depth print.
    """
    out: list[str] = []
    stack: list[Node | str] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        else:
            stack.extend(reversed(_pieces(item)))
    return "".join(out)


def _operand(node: Node, wrap: tuple[str, ...]) -> list[Node | str]:
    if node.kind is Kind.AGG or (node.kind is Kind.APPLY and node.arg in wrap):
        return ["(", node, ")"]
    return [node]


def _pieces(node: Node) -> list[Node | str]:
    """The text of ``node`` as strings and the children to print in their places."""
    kind, arg = node.kind, node.arg
    if kind is Kind.ATOM:
        text = arg.predicate
        if arg.args:
            text += f"({', '.join(_term(t) for t in arg.args)})"
        if arg.rvar is not None:
            text += f"[{str(arg.rvar).lower() if isinstance(arg.rvar, bool) else arg.rvar}]"
        return [f"{text}@{node.structure}"]
    if kind is Kind.CONST:
        value = str(arg).lower() if isinstance(arg, bool) else repr(float(arg))
        return [f"{value}@{node.structure}"]
    if kind is Kind.TRANSFORM:
        return [f"tau[{arg}->{node.structure}](", node.children[0], ")"]
    if kind is Kind.AGG:
        try:
            name = get_algebra(node.structure).aggregator_name(arg.role)
        except UnknownOperationError:
            name = arg.role  # aggregate() also accepts the role itself
        domain = arg.domain
        if domain != BOOL_DOMAIN:
            domain = "{" + ", ".join(_term(v) for v in domain) + "}"
        return [f"{name} {arg.var} in {domain}: ", node.children[0]]
    if arg == "neg":
        return ["~", *_operand(node.children[0], ("plus", "times"))]
    wrap = ("plus",) if arg == "plus" else ("plus", "times")
    sep = " + " if arg == "plus" else " * "
    pieces: list[Node | str] = []
    for i, child in enumerate(node.children):
        pieces += [sep] if i else []
        pieces += _operand(child, wrap)
    return pieces
