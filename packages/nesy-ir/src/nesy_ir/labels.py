"""Labelling: the labels of atoms, given by the user or by parametric labelling functions.

A label is an array batched over a leading axis (or a scalar, broadcast). For a reified atom
``a[x]@S`` the label supplied for ``a`` is that of ``a[true]``; ``a[false]`` gets its complement
(the structure's negation) unless given explicitly with a ``[false]`` key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import LabelError
from .nodes import Kind, Node
from .registry import get_algebra


def slot_key(predicate: str, args: tuple, rvalue: bool | None = None) -> str:
    """The text key of a label slot: ``pred(a, b)`` or ``pred(a, b)[false]``."""
    text = predicate + (f"({','.join(str(t) for t in args)})" if args else "")
    return text if rvalue is None else f"{text}[{str(rvalue).lower()}]"


@dataclass(frozen=True)
class LabelFunction:
    """A parametric labelling function for ``predicate`` in ``structure``.

    ``fn(args, rvalue)`` returns the label of the ground atom ``predicate(args)[rvalue]``
    (``rvalue`` is None for an atom without reification). ``normalised`` declares that its labels
    over the two truth values aggregate to the structure's one (a distribution), which the
    rewrite that removes ``sum_X label(X)`` relies on.
    """

    predicate: str
    structure: str
    fn: Callable[[tuple, bool | None], Any]
    normalised: bool = False


class Labelling:
    """Labels of atoms by text key or atom node, plus labelling functions by predicate."""

    def __init__(
        self,
        values: Mapping[str | Node, Any] | None = None,
        functions: Iterable[LabelFunction] = (),
    ):
        self._values: dict[str, Any] = {}
        self._false_cache: set[str] | None = None
        for key, value in (values or {}).items():
            self._values[_key_of(key)] = value
        self._functions = {(f.predicate, f.structure): f for f in functions}

    @property
    def _explicit_false(self) -> set[str]:
        """The predicates some atom of which has its own ``[false]`` label (cached)."""
        if self._false_cache is None:
            self._false_cache = {
                k.split("(")[0].split("[")[0] for k in self._values if k.endswith("[false]")
            }
        return self._false_cache

    def with_values(self, values: Mapping[str | Node, Any]) -> Labelling:
        """A copy with more (or replaced) values."""
        out = Labelling(functions=self._functions.values())
        out._values = {**self._values, **{_key_of(k): v for k, v in values.items()}}
        return out

    def has_own_label(self, key: str) -> bool:
        """Whether a value is given under exactly ``key`` (e.g. ``a(b)[false]``)."""
        return _key_of(key) in self._values

    def normalised(self, predicate: str, structure: str) -> bool:
        """Whether the labels of ``predicate`` over its truth values sum to one."""
        f = self._functions.get((predicate, structure))
        if f is not None:
            return f.normalised
        if predicate in self._explicit_false:
            return False  # given labels for both truth values: nothing says they sum to one
        return get_algebra(structure).has("complemented")

    def label(self, node: Node) -> np.ndarray:
        """The checked label array of a ground atom node (variables already substituted)."""
        if node.kind is not Kind.ATOM:
            raise TypeError(f"only atoms have labels, not {node}")
        a = node.arg
        algebra = get_algebra(node.structure)
        rvalue = a.rvar if isinstance(a.rvar, bool) else None
        where = f"{slot_key(a.predicate, a.args, rvalue)}@{node.structure}"
        f = self._functions.get((a.predicate, node.structure))
        if f is not None:
            raw = f.fn(a.args, rvalue)
            return _checked(raw, algebra, where)
        explicit = self._values.get(slot_key(a.predicate, a.args, rvalue))
        if explicit is not None:
            return _checked(explicit, algebra, where)
        base = self._values.get(slot_key(a.predicate, a.args))
        if base is None:
            raise LabelError(f"no label for atom {where}")
        value = _checked(base, algebra, f"{slot_key(a.predicate, a.args)}@{node.structure}")
        if rvalue is False:
            if algebra.neg is None:
                raise LabelError(f"{where}: {node.structure} has no negation for the false label")
            return algebra.neg(value)
        return value


def _key_of(key: str | Node) -> str:
    if isinstance(key, Node):
        if key.kind is not Kind.ATOM:
            raise TypeError(f"label keys must be atoms, got {key}")
        rvalue = key.arg.rvar if isinstance(key.arg.rvar, bool) else None
        return slot_key(key.arg.predicate, key.arg.args, rvalue)
    return "".join(key.split())  # "a(b, c)" and "a(b,c)" are one key


def _checked(raw: Any, algebra, where: str) -> np.ndarray:
    try:
        array = algebra.carrier.coerce(raw)
    except ValueError as e:
        raise LabelError(f"label of {where}: {e}") from None
    if array.ndim > 1:
        raise LabelError(
            f"label of {where} has shape {array.shape}: expected a scalar or a batch (B,)"
        )
    problem = algebra.carrier.violation(array)
    if problem:
        raise LabelError(f"label of {where} is {problem}")
    return array
