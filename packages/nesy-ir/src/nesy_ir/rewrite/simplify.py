"""Local simplifications: flattening, constants, neutral and absorbing elements, idempotence,
double negation, De Morgan, and factoring by distributivity where it shrinks the graph."""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..nodes import Kind, Node, fold
from ..registry import get_algebra, get_transformation
from .engine import Context, Rule, RuleSet

A, C = Kind.APPLY, Kind.CONST


def _const(value, structure: str) -> Node | None:
    """A constant node, or None when the value is not a scalar inside the carrier."""
    algebra = get_algebra(structure)
    array = algebra.carrier.coerce(value)
    if array.shape != () or algebra.carrier.violation(array):
        return None
    return Node(C, structure, array.item())


def _is_const(node: Node, value) -> bool:
    return node.kind is C and bool(np.asarray(node.arg == value))


def flatten(n: Node, ctx: Context) -> Node | None:
    # (a + b) + c -> a + b + c ; +(a) -> a
    if len(n.children) == 1:
        return n.children[0]
    if not any(c.is_op(n.arg) for c in n.children):
        return None
    out = []
    for c in n.children:
        out.extend(c.children if c.is_op(n.arg) else (c,))
    return n.with_children(out)


def fold_constants(n: Node, ctx: Context) -> Node | None:
    # 0.5 * 0.4 -> 0.2 ; 0.5 * x * 0.4 -> 0.2 * x (associative and commutative ops)
    consts = [c for c in n.children if c.kind is C]
    if not consts or (len(consts) == 1 and len(n.children) > 1):
        return None
    algebra = get_algebra(n.structure)
    if len(consts) == len(n.children):
        if n.arg == "neg":
            return _const(algebra.neg(consts[0].arg), n.structure)
        return _const(algebra.reduce(n.arg, [c.arg for c in consts]), n.structure)
    if not algebra.has(f"{n.arg}.associative", f"{n.arg}.commutative"):
        return None
    folded = _const(algebra.reduce(n.arg, [c.arg for c in consts]), n.structure)
    if folded is None:
        return None
    return n.with_children([folded, *(c for c in n.children if c.kind is not C)])


def fold_transform(n: Node, ctx: Context) -> Node | None:
    # tau(constant) -> constant
    child = n.children[0]
    if child.kind is not C:
        return None
    return _const(get_transformation(n.arg, n.structure).fn(child.arg), n.structure)


def reified_truth(n: Node, ctx: Context) -> Node | None:
    # a[true]@bool -> true  (a reified Boolean atom is labelled by its truth value)
    rvar = n.arg.rvar
    if n.structure == "bool" and isinstance(rvar, bool):
        return Node(C, "bool", rvar)
    return None


def fixed_label(n: Node, ctx: Context) -> Node | None:
    # a[false]@S -> c  (a label slot whose value the context fixes)
    return ctx.fixed.get(n)


def drop_neutral(n: Node, ctx: Context) -> Node | None:
    # a + 0 -> a ; a * 1 -> a
    e = get_algebra(n.structure).neutral(n.arg)
    kept = [c for c in n.children if not _is_const(c, e)]
    if len(kept) == len(n.children):
        return None
    return fold(n.arg, kept, n.structure)


def absorb(n: Node, ctx: Context) -> Node | None:
    # a * 0 -> 0 ; a + 1 -> 1 (where 1 absorbs +)
    z = get_algebra(n.structure).absorbing(n.arg)
    for c in n.children:
        if _is_const(c, z):
            return c
    return None


def idempotence(n: Node, ctx: Context) -> Node | None:
    # a + b + a -> a + b (idempotent, commutative)
    unique = tuple(dict.fromkeys(n.children))
    return n.with_children(unique) if len(unique) < len(n.children) else None


def double_negation(n: Node, ctx: Context) -> Node | None:
    # ~~a -> a
    child = n.children[0]
    return child.children[0] if child.is_op("neg") else None


def de_morgan(n: Node, ctx: Context) -> Node | None:
    # ~(a + b) -> ~a * ~b ; ~(a * b) -> ~a + ~b
    child = n.children[0]
    dual = {"plus": "times", "times": "plus"}.get(child.arg) if child.kind is A else None
    if dual is None:
        return None
    negs = [Node(A, n.structure, "neg", (c,)) for c in child.children]
    return Node(A, n.structure, dual, tuple(negs))


def _factors(n: Node) -> tuple[Node, ...]:
    return n.children if n.is_op("times") else (n,)


def factor(n: Node, ctx: Context) -> Node | None:
    # a*b + a*c -> a*(b + c), when it removes more edges than it adds
    counts = Counter(f for c in n.children for f in dict.fromkeys(_factors(c)))
    if not counts:
        return None
    common, count = counts.most_common(1)[0]
    if count < 2:
        return None
    group = [c for c in n.children if common in _factors(c)]
    rest = [c for c in n.children if common not in _factors(c)]
    before = len(n.children) + sum(len(_factors(c)) for c in group if c.is_op("times"))
    rests = []
    for c in group:
        fs = list(_factors(c))
        fs.remove(common)
        rests.append(fold("times", fs, n.structure))
    after = len(rest) + 1 + 2 + len(rests) + sum(len(r.children) for r in rests if r.is_op("times"))
    if after >= before:
        return None
    inner = Node(A, n.structure, "times", (common, fold("plus", rests, n.structure)))
    return fold("plus", [inner, *rest], n.structure)


ASSOC_COMM = ("{role}.associative", "{role}.commutative")

SIMPLIFY = RuleSet(
    "simplify",
    (
        Rule("reified_truth", Kind.ATOM, reified_truth, doc="a[true]@bool -> true"),
        Rule("fixed_label", Kind.ATOM, fixed_label, doc="a[false]@S -> c (a fixed label)"),
        Rule("fold_transform", Kind.TRANSFORM, fold_transform, doc="tau(c) -> tau's value of c"),
        Rule("flatten_plus", A, flatten, "plus", ("plus.associative",), "(a+b)+c -> a+b+c"),
        Rule("flatten_times", A, flatten, "times", ("times.associative",), "(a*b)*c -> a*b*c"),
        Rule("fold_constants", A, fold_constants, doc="0.5 * 0.4 -> 0.2"),
        Rule("neutral_plus", A, drop_neutral, "plus", ("plus.neutral",), "a + 0 -> a"),
        Rule("neutral_times", A, drop_neutral, "times", ("times.neutral",), "a * 1 -> a"),
        Rule("absorb_times", A, absorb, "times", ("times.absorbing",), "a * 0 -> 0"),
        Rule("absorb_plus", A, absorb, "plus", ("plus.absorbing",), "a + 1 -> 1"),
        Rule(
            "idempotent_plus",
            A,
            idempotence,
            "plus",
            ("plus.idempotent", *ASSOC_COMM),
            "a + a -> a",
        ),
        Rule(
            "idempotent_times",
            A,
            idempotence,
            "times",
            ("times.idempotent", *ASSOC_COMM),
            "a * a -> a",
        ),
        Rule("double_negation", A, double_negation, "neg", ("neg.involutive",), "~~a -> a"),
    ),
)

NNF = RuleSet(
    "nnf", (Rule("de_morgan", A, de_morgan, "neg", ("de_morgan",), "~(a + b) -> ~a * ~b"),)
)

FACTOR = RuleSet(
    "factor",
    (
        Rule(
            "factor",
            A,
            factor,
            "plus",
            (
                "times.distributes",
                "plus.associative",
                "plus.commutative",
                "times.associative",
                "times.commutative",
                "times.neutral",
            ),
            "a*b + a*c -> a*(b + c)",
        ),
    ),
)
