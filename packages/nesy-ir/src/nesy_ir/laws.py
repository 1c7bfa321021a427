"""The algebraic laws a structure may declare, each with a numeric check.

Rewrite rules name the laws they need; a rule is skipped for a structure that does not declare
them. The checks let the tests prove that every declaration is honest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .algebra import Algebra

Check = Callable[["Algebra", np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _eq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    both_inf = np.isinf(x) & np.isinf(y) & (np.sign(x) == np.sign(y))
    with np.errstate(invalid="ignore"):
        return both_inf | np.isclose(x, y, rtol=1e-9, atol=1e-9)


def _op(alg: Algebra, role: str):
    return alg.operation(role)


def _assoc(role: str) -> Check:
    def check(alg, a, b, c):
        f = _op(alg, role)
        return _eq(f(f(a, b), c), f(a, f(b, c)))

    return check


def _comm(role: str) -> Check:
    return lambda alg, a, b, c: _eq(_op(alg, role)(a, b), _op(alg, role)(b, a))


def _idem(role: str) -> Check:
    return lambda alg, a, b, c: _eq(_op(alg, role)(a, a), a)


def _neutral(role: str) -> Check:
    return lambda alg, a, b, c: _eq(_op(alg, role)(a, alg.neutral(role)), a)


def _absorbing(role: str) -> Check:
    def check(alg, a, b, c):
        z = alg.absorbing(role)
        return _eq(_op(alg, role)(a, z), np.broadcast_to(z, np.shape(a)))

    return check


def _distributes(outer: str, inner: str) -> Check:
    def check(alg, a, b, c):
        f, g = _op(alg, outer), _op(alg, inner)
        return _eq(f(a, g(b, c)), g(f(a, b), f(a, c)))

    return check


def _involutive(alg, a, b, c):
    return _eq(alg.neg(alg.neg(a)), a)


def _complemented(alg, a, b, c):
    return _eq(alg.plus(a, alg.neg(a)), np.broadcast_to(alg.one, np.shape(a)))


def _de_morgan(alg, a, b, c):
    n = alg.neg
    return _eq(n(alg.plus(a, b)), alg.times(n(a), n(b))) & _eq(
        n(alg.times(a, b)), alg.plus(n(a), n(b))
    )


#: Every law by name: its check over three arrays of carrier values. ``plus.absorbing`` means
#: that ``one`` absorbs (+); ``times.absorbing`` that ``zero`` absorbs (x).
LAWS: dict[str, Check] = {
    "plus.associative": _assoc("plus"),
    "plus.commutative": _comm("plus"),
    "plus.idempotent": _idem("plus"),
    "plus.neutral": _neutral("plus"),
    "plus.absorbing": _absorbing("plus"),
    "times.associative": _assoc("times"),
    "times.commutative": _comm("times"),
    "times.idempotent": _idem("times"),
    "times.neutral": _neutral("times"),
    "times.absorbing": _absorbing("times"),
    "times.distributes": _distributes("times", "plus"),
    "plus.distributes": _distributes("plus", "times"),
    "neg.involutive": _involutive,
    "complemented": _complemented,
    "de_morgan": _de_morgan,
}

#: Laws that only make sense when the structure has a negation.
NEEDS_NEGATION = frozenset({"neg.involutive", "complemented", "de_morgan"})

SEMIRING = frozenset(
    {
        "plus.associative",
        "plus.commutative",
        "plus.neutral",
        "times.associative",
        "times.commutative",
        "times.neutral",
        "times.absorbing",
        "times.distributes",
    }
)
