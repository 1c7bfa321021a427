"""Transformations between algebraic structures (the DeepLog paper, defs. 10-11)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: When a transformation commutes with an operation: always, or only over children that are
#: mutually exclusive (determinism) or share no variable (decomposability).
CONDITIONS = ("always", "deterministic", "decomposable")


@dataclass(frozen=True)
class Transformation:
    """A map ``fn`` from labels of ``source`` to labels of ``target``.

    ``homomorphism`` says, for each role (plus, times, neg), under which condition
    tau(a op b) = tau(a) op' tau(b); roles left out are never pushed through. ``indicator``
    says that it maps the source's zero and one to the target's zero and one (an indicator of
    truth), which lets aggregation resolve against it.
    """

    source: str
    target: str
    fn: Callable[[Any], Any]
    homomorphism: Mapping[str, str] = field(default_factory=dict)
    indicator: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        for role, condition in self.homomorphism.items():
            if role not in ("plus", "times", "neg") or condition not in CONDITIONS:
                raise ValueError(
                    f"transformation {self.name}: bad homomorphism entry {role!r}: {condition!r}"
                )

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"
