"""Algebraic structures (DeepLog, def. 1): a carrier, (+), (x), a negation, aggregators, laws."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

import numpy as np

from .errors import UnknownOperationError
from .laws import LAWS, NEEDS_NEGATION

Binary = Callable[[Any, Any], Any]
Unary = Callable[[Any], Any]

ROLES = ("plus", "times", "neg")


@dataclass(frozen=True)
class Carrier:
    """The set of labels: Booleans, or a closed real interval."""

    name: str
    boolean: bool = False
    low: float = -np.inf
    high: float = np.inf

    def coerce(self, values: Any) -> np.ndarray:
        """Values as an array of this carrier's dtype (no range check)."""
        array = np.asarray(values)
        if self.boolean:
            if array.dtype != np.bool_:
                array = array.astype(float)
                if np.any(np.isnan(array)) or not np.all((array == 0) | (array == 1)):
                    bad = array[~((array == 0) | (array == 1))].flat[0].item()
                    raise ValueError(f"{bad!r} is not a truth value (0/1, False/True)")
                array = array.astype(bool)
            return array
        if array.dtype.kind not in "biuf":
            raise ValueError(f"values of dtype {array.dtype} are not numbers")
        return array.astype(float)

    def violation(self, array: np.ndarray) -> str | None:
        """A description of the first value outside the carrier, or None."""
        if self.boolean:
            return None
        if np.any(np.isnan(array)):
            return "NaN"
        bad = (array < self.low) | (array > self.high)
        if np.any(bad):
            return f"{array[bad].flat[0].item()!r}, outside the carrier {self.name}"
        return None

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Random carrier values with the boundary values mixed in (for law checks)."""
        if self.boolean:
            return rng.integers(0, 2, size).astype(bool)
        low = max(self.low, -5.0)
        high = min(self.high, 5.0)
        values = rng.uniform(low, high, size)
        specials = [v for v in (self.low, self.high, 0.0, 1.0, 0.5) if self.low <= v <= self.high]
        k = min(len(specials), size // 4)
        values[:k] = specials[:k]
        return values


@dataclass(frozen=True)
class Algebra:
    """A named algebraic structure whose operations are declared by role.

    ``zero`` is the neutral element of (+) and ``one`` that of (x); ``aggregators`` maps an
    aggregator's name (``sum``, ``max``, ``exists``) to the role of the binary operation it folds.
    ``laws`` lists what the structure satisfies (names from :data:`nesy_ir.laws.LAWS`).
    """

    name: str
    carrier: Carrier
    zero: Any
    one: Any
    plus: Binary
    times: Binary
    neg: Unary | None
    aggregators: Mapping[str, str]
    laws: frozenset[str]
    description: str = ""
    symbols: Mapping[str, str] = field(default_factory=lambda: {"plus": "+", "times": "*"})

    def __post_init__(self) -> None:
        unknown = set(self.laws) - set(LAWS)
        if unknown:
            raise ValueError(f"algebra {self.name!r} declares unknown laws {sorted(unknown)}")
        if self.neg is None and self.laws & NEEDS_NEGATION:
            raise ValueError(f"algebra {self.name!r} declares negation laws but has no negation")
        for agg, role in self.aggregators.items():
            if role not in ("plus", "times"):
                raise ValueError(f"aggregator {agg!r} of {self.name!r} folds unknown role {role!r}")

    def has(self, *laws: str) -> bool:
        """Whether every one of ``laws`` is declared."""
        return all(law in self.laws for law in laws)

    def operation(self, role: str) -> Callable:
        """The operation playing ``role`` (plus, times, neg)."""
        op = {"plus": self.plus, "times": self.times, "neg": self.neg}.get(role)
        if op is None:
            raise UnknownOperationError(f"structure {self.name!r} has no operation {role!r}")
        return op

    def neutral(self, role: str) -> Any:
        """The neutral element of (+) (``zero``) or (x) (``one``)."""
        return self.zero if role == "plus" else self.one

    def absorbing(self, role: str) -> Any:
        """The absorbing element: ``one`` for (+), ``zero`` for (x) (when the law is declared)."""
        return self.one if role == "plus" else self.zero

    def reduce(self, role: str, values: list) -> Any:
        """Fold ``values`` with the operation of ``role``; the neutral element when empty."""
        if not values:
            return self.carrier.coerce(self.neutral(role))
        return reduce(self.operation(role), values)

    def aggregator_role(self, name: str) -> str:
        """The role folded by aggregator ``name``, or an error naming the known ones."""
        try:
            return self.aggregators[name]
        except KeyError:
            known = ", ".join(sorted(self.aggregators)) or "none"
            raise UnknownOperationError(
                f"structure {self.name!r} has no aggregator {name!r} (it has: {known})"
            ) from None

    def aggregator_name(self, role: str) -> str:
        """The first aggregator that folds ``role`` (used when printing)."""
        for name, r in self.aggregators.items():
            if r == role:
                return name
        raise UnknownOperationError(f"structure {self.name!r} has no aggregator for {role!r}")
