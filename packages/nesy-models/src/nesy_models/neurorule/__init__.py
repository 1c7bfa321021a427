"""NeuroRule: differentiable rule induction with smooth-max chain rules, trained
for knowledge-graph completion over dense |E| x |E| relation operators.

:mod:`.chain` (the smooth existential), :mod:`.model` (predicates, rules, forward chaining),
:mod:`.config` (the options), :mod:`.train` (loss with training-edge masking, filtered
ranking), :mod:`.checkpoint` (saving and resuming), :mod:`.explain` (learned rules, reasoning
chains, ProbLog export).
"""

from nesy_models.neurorule.chain import chain_log_body, log_matmul_exp
from nesy_models.neurorule.config import NeuroRuleConfig
from nesy_models.neurorule.explain import (
    Explanation,
    LearnedRule,
    explain,
    export_program,
    learned_rules,
)
from nesy_models.neurorule.model import (
    MAX_LENGTH,
    NeuroRule,
    NeuroRuleError,
    adjacency,
    predicate_names,
)
from nesy_models.neurorule.train import train_neurorule

__all__ = [
    "MAX_LENGTH",
    "Explanation",
    "LearnedRule",
    "NeuroRule",
    "NeuroRuleConfig",
    "NeuroRuleError",
    "adjacency",
    "chain_log_body",
    "explain",
    "export_program",
    "learned_rules",
    "log_matmul_exp",
    "predicate_names",
    "train_neurorule",
]
