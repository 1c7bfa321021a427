"""A DeepLog model (DeepLog, def. 12): formulas, their labelling, and what they are built of."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .circuit import Circuit
from .evaluate import evaluate
from .labels import Labelling
from .nodes import Kind, Node
from .traverse import postorder


@dataclass(frozen=True)
class Model:
    """Named query formulas with a labelling; free variables are inputs bound at evaluation.

    Variables, their domains, the structures and the transformations are read off the formulas
    (aggregations carry their domains), so they cannot disagree with them.
    """

    queries: Mapping[str, Node]
    labelling: Labelling = field(default_factory=Labelling)

    def __post_init__(self) -> None:
        if isinstance(self.queries, Node):
            object.__setattr__(self, "queries", {"query": self.queries})
        if not self.queries:
            raise ValueError("a model needs at least one query formula")

    def _nodes(self) -> list[Node]:
        return postorder(self.queries.values())

    def structures(self) -> set[str]:
        return {n.structure for n in self._nodes()}

    def transformations(self) -> set[tuple[str, str]]:
        return {(n.arg, n.structure) for n in self._nodes() if n.kind is Kind.TRANSFORM}

    def domains(self) -> dict[str, Any]:
        """Each aggregated variable with its domain ('bool' for reification variables)."""
        return {n.arg.var: n.arg.domain for n in self._nodes() if n.kind is Kind.AGG}

    def inputs(self) -> set[str]:
        """Free variables of the queries: bound by the caller at evaluation."""
        return set().union(*(q.free for q in self.queries.values()))

    def evaluate(self, env: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """Each query's label by enumeration (the reference semantics)."""
        return {name: evaluate(q, self.labelling, env) for name, q in self.queries.items()}

    def circuit(self, optimised: bool = True) -> Circuit:
        """One circuit with a root per query, rewritten by the default pipeline."""
        from .rewrite import to_circuit

        return to_circuit(
            list(self.queries.values()), list(self.queries), self.labelling, optimised=optimised
        )
