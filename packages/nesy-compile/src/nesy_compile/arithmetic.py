"""Arithmetic as ProbLog evaluates it (``X is Expr``, comparisons, computed probabilities).

Terms are the grounder's: numbers, atoms as ``str``, compounds as ``(functor, *args)``. The
operators and functions are the table :data:`FUNCTIONS`, with ProbLog's meanings where they
differ from ISO Prolog: ``//`` rounds down (``-7 // 2`` is -4), ``rem`` is ``mod``, ``round``
rounds half to even (Python's), ``/`` of integers that divide is an integer.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["CONSTANTS", "FUNCTIONS", "NotArithmetic", "evaluate"]


class NotArithmetic(ValueError):
    """A term that is not an arithmetic expression, or one that has no value (division by
    zero, an integer operation on a float): the caller adds where it happened."""


def _integers(name: str, f: Callable) -> Callable:
    def checked(x, y):
        if not (isinstance(x, int) and isinstance(y, int)):
            raise NotArithmetic(f"{name} needs integers")
        if y == 0:
            raise NotArithmetic("division by zero")
        return f(x, y)

    return checked


def _divide(x, y):
    if y == 0:
        raise NotArithmetic("division by zero")
    if isinstance(x, int) and isinstance(y, int) and x % y == 0:
        return x // y
    return x / y


def _real(f: Callable) -> Callable:
    def checked(*xs):
        try:
            return f(*xs)
        except (ValueError, OverflowError) as e:
            raise NotArithmetic(str(e)) from None

    return checked


#: name -> arity -> function of the arguments' values
FUNCTIONS: dict[tuple[str, int], Callable] = {
    ("+", 2): lambda x, y: x + y,
    ("-", 2): lambda x, y: x - y,
    ("*", 2): lambda x, y: x * y,
    ("/", 2): _divide,
    ("//", 2): _integers("//", lambda x, y: x // y),
    ("mod", 2): _integers("mod", lambda x, y: x % y),
    ("rem", 2): _integers("rem", lambda x, y: x % y),
    ("**", 2): _real(lambda x, y: x**y),
    ("^", 2): _real(lambda x, y: x**y),
    ("min", 2): min,
    ("max", 2): max,
    ("atan2", 2): _real(math.atan2),
    ("atan", 2): _real(math.atan2),
    ("-", 1): lambda x: -x,
    ("+", 1): lambda x: x,
    ("abs", 1): abs,
    ("sign", 1): lambda x: (x > 0) - (x < 0) if isinstance(x, int) else math.copysign(1.0, x),
    ("sqrt", 1): _real(math.sqrt),
    ("exp", 1): _real(math.exp),
    ("log", 1): _real(math.log),
    ("log2", 1): _real(math.log2),
    ("sin", 1): math.sin,
    ("cos", 1): math.cos,
    ("tan", 1): math.tan,
    ("asin", 1): _real(math.asin),
    ("acos", 1): _real(math.acos),
    ("atan", 1): math.atan,
    ("floor", 1): _real(math.floor),
    ("ceiling", 1): _real(math.ceil),
    ("round", 1): _real(round),
    ("truncate", 1): _real(math.trunc),
    ("integer", 1): _real(round),
    ("float", 1): float,
    ("float_integer_part", 1): lambda x: float(math.trunc(x)),
    ("float_fractional_part", 1): lambda x: x - math.trunc(x),
}
#: constants written as atoms
CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}


def evaluate(t: object) -> int | float:
    """The value of the ground expression ``t``; :class:`NotArithmetic` if it has none."""
    if isinstance(t, bool):
        raise NotArithmetic("not an arithmetic expression")
    if isinstance(t, (int, float)):
        return t
    if isinstance(t, str) and t in CONSTANTS:
        return CONSTANTS[t]
    if isinstance(t, tuple):
        f = FUNCTIONS.get((t[0], len(t) - 1))
        if f is not None:
            return f(*(evaluate(a) for a in t[1:]))
    raise NotArithmetic("not an arithmetic expression")
