"""Immutable, hash-consed IR nodes shared by formulas and circuits.

Every node is interned: building the same node twice returns the same object, so equality is
identity, hashing is O(1) and common sub-expressions are shared for free. Formulas use all five
kinds; an algebraic circuit is a DAG of nodes without aggregation (see :mod:`nesy_ir.circuit`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from weakref import WeakValueDictionary

from .errors import (
    FreeVariableError,
    ReificationDomainError,
    StructureMismatchError,
    UnknownOperationError,
)
from .registry import get_algebra, get_transformation
from .terms import BOOL_DOMAIN, Term, Var, check_term


class Kind(StrEnum):
    ATOM = "atom"
    CONST = "const"
    APPLY = "apply"
    AGG = "agg"
    TRANSFORM = "transform"


@dataclass(frozen=True)
class AtomArg:
    """Predicate, arguments and reification (a variable, a truth value, or None) of an atom."""

    predicate: str
    args: tuple[Term, ...]
    rvar: Var | bool | None


@dataclass(frozen=True)
class AggArg:
    """Aggregation: the role it folds, the variable, and its domain ('bool' or constants)."""

    role: str
    var: str
    domain: str | tuple


_TABLE: WeakValueDictionary = WeakValueDictionary()


class Node:
    """One IR node: kind, structure (the algebra its value lives in), argument and children."""

    __slots__ = ("kind", "structure", "arg", "children", "_free", "__weakref__")

    kind: Kind
    structure: str
    arg: Any
    children: tuple[Node, ...]

    def __new__(cls, kind: Kind, structure: str, arg: Any, children: tuple[Node, ...] = ()):
        key = (kind, structure, type(arg), arg, children)
        node = _TABLE.get(key)
        if node is not None:
            return node
        node = object.__new__(cls)
        _SET_KIND(node, kind)  # the slots' own setters: __setattr__ refuses, by design
        _SET_STRUCTURE(node, structure)
        _SET_ARG(node, arg)
        _SET_CHILDREN(node, children)
        _SET_FREE(node, None)  # computed on first use: see free
        _TABLE[key] = node
        return node

    @property
    def free(self) -> frozenset[str]:
        """The names of the free variables, computed on first use for this node and the nodes
        below it not asked before (children first, without recursion), then kept: a formula
        that is only compiled (a ground program's Boolean formulas, whose sets of reification
        variables grow with their depth) never builds them."""
        free = self._free
        if free is None:
            for n in _without_free(self):
                _SET_FREE(n, _free_vars(n.kind, n.arg, n.children))
            free = self._free
        return free

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("IR nodes are immutable")

    def __reduce__(self):
        return (Node, (self.kind, self.structure, self.arg, self.children))

    # --- convenience -------------------------------------------------------------------------
    def with_children(self, children: Iterable[Node]) -> Node:
        """This node with other children (same kind, structure and argument)."""
        children = tuple(children)
        if children == self.children:
            return self
        return Node(self.kind, self.structure, self.arg, children)

    @property
    def role(self) -> str | None:
        """The role of an application or aggregation, else None."""
        if self.kind is Kind.APPLY:
            return self.arg
        if self.kind is Kind.AGG:
            return self.arg.role
        return None

    def is_op(self, role: str) -> bool:
        return self.kind is Kind.APPLY and self.arg == role

    def __add__(self, other: Node) -> Node:
        return apply("plus", self, other)

    def __mul__(self, other: Node) -> Node:
        return apply("times", self, other)

    def __invert__(self) -> Node:
        return apply("neg", self)

    def __str__(self) -> str:
        from .syntax import to_text

        return to_text(self)

    def __repr__(self) -> str:
        from .traverse import size

        nodes, _ = size([self])
        text = str(self) if nodes <= 64 else f"a DAG of {nodes} nodes"
        return f"<{self.kind.value}@{self.structure}: {text}>"


_NO_VARS: frozenset[str] = frozenset()


_SET_KIND, _SET_STRUCTURE, _SET_ARG, _SET_CHILDREN, _SET_FREE = (
    getattr(Node, name).__set__ for name in ("kind", "structure", "arg", "children", "_free")
)


def _without_free(root: Node) -> list[Node]:
    """The nodes below ``root`` (itself included) whose free variables are not known yet,
    children before parents."""
    order: list[Node] = []
    seen: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in node.children if c._free is None)
    return order


def _free_vars(kind: Kind, arg: Any, children: tuple[Node, ...]) -> frozenset[str]:
    """The free variables of a node whose children's are known."""
    if kind is Kind.ATOM:
        names = {t.name for t in arg.args if isinstance(t, Var)}
        if isinstance(arg.rvar, Var):
            names.add(arg.rvar.name)
        return frozenset(names)
    free = _NO_VARS
    for c in children:  # circuits: no free variables, and no set is built
        f = c._free
        if f and f is not free:
            free = free | f if free else f
    if kind is Kind.AGG:
        free = free - {arg.var}
    return free


# --- validating constructors ---------------------------------------------------------------


def atom(
    predicate: str,
    args: Iterable[Term] = (),
    structure: str = "bool",
    rvar: Var | bool | None = None,
) -> Node:
    """An algebraic atom ``predicate(args)[rvar]@structure``."""
    get_algebra(structure)
    if not predicate or not isinstance(predicate, str):
        raise TypeError(f"predicate must be a non-empty string, got {predicate!r}")
    where = f"atom {predicate}"
    args = tuple(check_term(t, where) for t in args)
    if rvar is not None and not isinstance(rvar, (Var, bool)):
        raise TypeError(f"{where}: reification must be a Var or a truth value, got {rvar!r}")
    return Node(Kind.ATOM, structure, AtomArg(predicate, args, rvar))


def const(value: Any, structure: str) -> Node:
    """A constant label of ``structure``; an error if it lies outside the carrier."""
    from .errors import LabelError

    algebra = get_algebra(structure)
    try:
        array = algebra.carrier.coerce(value)
    except ValueError as e:
        raise LabelError(f"constant {value!r} of {structure}: {e}") from None
    if array.shape != ():
        raise LabelError(f"constant {value!r} of {structure} is not a scalar")
    problem = algebra.carrier.violation(array)
    if problem:
        raise LabelError(f"constant of {structure} is {problem}")
    return Node(Kind.CONST, structure, array.item())


def apply(role: str, *children: Node) -> Node:
    """Apply the operation of ``role`` (plus, times, neg) of the children's structure."""
    if not children:
        raise ValueError(f"{role} needs at least one operand")
    structures = {c.structure for c in children}
    if len(structures) > 1:
        a, b = sorted(structures)[:2]
        raise StructureMismatchError(
            f"cannot combine values of structures {a!r} and {b!r} with {role}:"
            f" insert a transformation (e.g. tau[{a}->{b}]) first"
        )
    structure = children[0].structure
    get_algebra(structure).operation(role)
    if role == "neg" and len(children) != 1:
        raise UnknownOperationError(f"neg takes one operand, got {len(children)}")
    if len(children) == 1 and role != "neg":
        return children[0]  # the n-ary (+) or (x) of one operand is that operand
    return Node(Kind.APPLY, structure, role, tuple(children))


def aggregate(aggregator: str, var: str | Var, domain: str | Iterable, body: Node) -> Node:
    """Aggregate ``body`` over ``var`` with the named aggregator of the body's structure.

    ``domain`` is ``'bool'`` for a reification variable, or the constants of a regular one.
    """
    name = var.name if isinstance(var, Var) else var
    algebra = get_algebra(body.structure)
    role = aggregator if aggregator in ("plus", "times") else algebra.aggregator_role(aggregator)
    if name not in body.free:
        raise FreeVariableError(
            f"cannot aggregate over {name}: it is not a free variable of the body"
            f" (free: {', '.join(sorted(body.free)) or 'none'})"
        )
    if domain != BOOL_DOMAIN:
        domain = tuple(check_term(v, f"domain of {name}") for v in domain)
        if not domain:
            raise ValueError(f"the domain of {name} is empty")
        reified = _reified_by(body, name)
        if reified is not None:
            values = ", ".join(str(v) for v in domain)
            raise ReificationDomainError(
                f"{name} is the reification variable of {reified}: it ranges over the truth"
                f" values, so aggregate over it 'in bool', not over the constants {{{values}}}"
            )
    return Node(Kind.AGG, body.structure, AggArg(role, name, domain), (body,))


def _reified_by(body: Node, name: str) -> Node | None:
    """An atom of ``body`` reified by the free variable ``name``, if there is one."""
    seen: set[int] = set()
    stack = [body]
    while stack:
        n = stack.pop()
        if id(n) in seen or name not in n.free:
            continue
        seen.add(id(n))
        if n.kind is Kind.ATOM and n.arg.rvar == Var(name):
            return n
        stack.extend(n.children)  # an aggregation over ``name`` has no free ``name``: skipped
    return None


def transform(child: Node, target: str) -> Node:
    """``tau[source->target](child)``; an error if no such transformation is registered."""
    get_transformation(child.structure, target)
    return Node(Kind.TRANSFORM, target, child.structure, (child,))


def fold(role: str, children: Iterable[Node], structure: str) -> Node:
    """The n-ary application of ``role`` over ``children``; its neutral constant when empty."""
    children = tuple(children)
    if not children:
        algebra = get_algebra(structure)
        return const(algebra.neutral(role), structure)
    if len(children) == 1:
        return children[0]
    return Node(Kind.APPLY, structure, role, children)


def is_bool_literal(node: Node) -> bool:
    """A Boolean atom or the negation of one."""
    if node.is_op("neg"):
        node = node.children[0]
    return node.kind is Kind.ATOM and node.structure == BOOL_DOMAIN
