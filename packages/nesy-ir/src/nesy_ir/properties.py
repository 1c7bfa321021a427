"""Structural properties of Boolean sub-formulas: determinism, decomposability, d-DNNF.

They are checked, never assumed: cheaply by complementary literals, otherwise by enumerating
the truth table when the formulas mention at most ``max_vars`` Boolean variables; beyond that a
check answers "unknown" (None) and rewrites that need the property do not fire.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import numpy as np

from .nodes import Kind, Node
from .terms import Var
from .traverse import postorder


def bool_key(node: Node) -> Hashable:
    """The Boolean variable an atom stands for: its reification variable, or the atom itself."""
    rvar = node.arg.rvar
    return rvar.name if isinstance(rvar, Var) else node


def bool_keys(roots: Iterable[Node]) -> list[Hashable]:
    """The Boolean variables of Boolean formulas, in order of first appearance."""
    keys: dict[Hashable, None] = {}
    for n in postorder(roots):
        if n.kind is Kind.ATOM and n.structure == "bool" and not isinstance(n.arg.rvar, bool):
            keys.setdefault(bool_key(n))
    return list(keys)


def literal(node: Node) -> tuple[Hashable, bool] | None:
    """(variable, polarity) when ``node`` is a Boolean literal, else None."""
    positive = True
    if node.is_op("neg"):
        node, positive = node.children[0], False
    if node.kind is Kind.ATOM and node.structure == "bool" and not isinstance(node.arg.rvar, bool):
        return bool_key(node), positive
    return None


def _conjuncts(node: Node) -> set[tuple[Hashable, bool]]:
    parts = node.children if node.is_op("times") else (node,)
    return {lit for p in parts if (lit := literal(p)) is not None}


def truth_tables(roots: list[Node], keys: list[Hashable]) -> list[np.ndarray]:
    """Each root's truth value under all 2^k assignments of ``keys`` (Boolean formulas only)."""
    k = len(keys)
    columns = {key: ((np.arange(2**k) >> i) & 1).astype(bool) for i, key in enumerate(keys)}
    value: dict[Node, np.ndarray] = {}
    for n in postorder(roots):
        if n.kind is Kind.CONST:
            value[n] = np.full(2**k, bool(n.arg))
        elif n.kind is Kind.ATOM:
            rvar = n.arg.rvar
            value[n] = np.full(2**k, rvar) if isinstance(rvar, bool) else columns[bool_key(n)]
        elif n.is_op("neg"):
            value[n] = ~value[n.children[0]]
        elif n.is_op("plus"):
            value[n] = np.logical_or.reduce([value[c] for c in n.children])
        elif n.is_op("times"):
            value[n] = np.logical_and.reduce([value[c] for c in n.children])
        else:
            raise ValueError(f"not a quantifier-free Boolean formula: {n}")
    return [value[r] for r in roots]


def mutually_exclusive(a: Node, b: Node, max_vars: int = 16, oracle=None) -> bool | None:
    """Whether Boolean formulas ``a`` and ``b`` are never true together (None: unknown).

    ``oracle(a, b)``, when given, is asked before enumerating (a knowledge compiler's check).
    """
    la, lb = _conjuncts(a), _conjuncts(b)
    if any((key, not pol) in lb for key, pol in la):
        return True
    if oracle is not None and (answer := oracle(a, b)) is not None:
        return answer
    keys = bool_keys([a, b])
    if len(keys) > max_vars or not _quantifier_free([a, b]):
        return None
    ta, tb = truth_tables([a, b], keys)
    return not bool(np.any(ta & tb))


def _quantifier_free(roots: list[Node]) -> bool:
    return all(n.kind in (Kind.ATOM, Kind.CONST, Kind.APPLY) for n in postorder(roots))


def deterministic(node: Node, max_vars: int = 16, oracle=None) -> bool | None:
    """Whether the operands of a Boolean (+) node are pairwise mutually exclusive."""
    result: bool | None = True
    cs = node.children
    lits = [_conjuncts(c) for c in cs]  # once per operand, not per pair
    for i in range(len(cs)):
        for j in range(i + 1, len(cs)):
            if any((key, not pol) in lits[j] for key, pol in lits[i]):
                continue
            ex = mutually_exclusive(cs[i], cs[j], max_vars, oracle)
            if ex is False:
                return False
            if ex is None:
                result = None
    return result


def decomposable(node: Node) -> bool:
    """Whether the operands of a (x) node share no variable (Boolean or free)."""
    seen: set[Hashable] = set()
    for c in node.children:
        keys = set(bool_keys([c])) | set(c.free)
        if keys & seen:
            return False
        seen |= keys
    return True


def is_ddnnf(root: Node, max_vars: int = 16, oracle=None) -> bool:
    """Negations only on literals, every (x) decomposable, every (+) deterministic."""
    for n in postorder([root]):
        if n.is_op("neg") and literal(n) is None:
            return False
        if n.is_op("times") and not decomposable(n):
            return False
        if n.is_op("plus") and deterministic(n, max_vars, oracle) is not True:
            return False
    return True
