"""Graph rewriting of formulas and circuits, gated by the laws each structure declares."""

from .engine import Context, Rule, RuleSet, rewrite
from .pipeline import (
    PIPELINE,
    STEPWISE,
    optimise,
    register_rule_set,
    rule_set,
    rule_sets,
    to_circuit,
)

__all__ = [
    "PIPELINE",
    "STEPWISE",
    "Context",
    "Rule",
    "RuleSet",
    "to_circuit",
    "optimise",
    "register_rule_set",
    "rewrite",
    "rule_set",
    "rule_sets",
]
