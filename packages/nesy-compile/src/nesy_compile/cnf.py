"""A weighted CNF: what the DIMACS reader hands to knowledge compilation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CNF:
    """Clauses over variables 1..num_vars (literals are signed ints, DIMACS style).

    ``weights`` maps a literal to its weight; a literal that is not there weighs 1.0.
    """

    num_vars: int
    clauses: tuple[tuple[int, ...], ...]
    weights: Mapping[int, float] = field(default_factory=dict)

    def weight(self, lit: int) -> float:
        """The weight of literal ``lit`` (1.0 when none was given)."""
        return float(self.weights.get(lit, 1.0))
