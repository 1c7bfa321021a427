"""NeuroRule's training options, checked when made, and the model they describe."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..checks import OptionError, at_least, non_negative, one_of, positive
from ..data.kg import KnowledgeGraph
from .model import MAX_LENGTH, NeuroRule

__all__ = ["LOSSES", "NeuroRuleConfig", "build_model", "check_rule_options"]

LOSSES = ("softmax", "bce")


@dataclass(frozen=True)
class NeuroRuleConfig:
    """The options of :func:`train_neurorule` (checked when made: a bad value is an
    ``OptionError`` naming it). ``dataset``: a name of :func:`load_kg` or a folder.

    Defaults: T = 4 rules of L = 3 atoms per head, the identity predicate, tau = 0.1, one hop,
    softmax loss, lambda = 0, AdamW lr 0.02 on batches of 32 queries (filtered test MRR 0.94 on
    the family tree, seed 0: ``nesy train neurorule``; 0.85 with the source's lambda = 0.1).
    In one 15-epoch comparison (lr 0.01, batches of 128) tau = 0.1 reached 0.87, tau = 0.3
    0.84 and tau = 1 (the sum-product) 0.60; BCE 0.76 where softmax reached 0.87.
    ``lam`` weighs Omega: its L1 term shrinks alpha, which is also the scale of the logits, so
    on the benchmarks it flattens the ranking (Nations: alpha fell to 0.01; Kinship, T = 4,
    L = 3: test MRR 0.46 at lambda = 0.1, 0.54 at 0), hence 0. On the benchmarks templates of
    mixed lengths pay most (Kinship 0.886 with T = 16, L = 2, ``mixed``; 0.743 with L = 1 and
    0.728 with L = 2 alone), and on sparse graphs forward chaining over hops (Kinship in
    RNNLogic's split: 0.531, 0.630, 0.666 with 1, 2, 3 hops): see
    ``benchmarks/neurorule_kg.py``.
    ``mixed``: templates of every body length 1..L in turn (NeuroRule's "templates of length
    up to L"; needs ``identity``), instead of all of length L.
    ``init_std`` the spread of the initial slot logits (it makes a head's T rules start apart).
    ``embedding``: complex dimensions of a ComplEx embedding added to the rules' scores (0:
    rules alone), fitted after the rules with AdamW at ``embedding_lr`` and the N3 weight
    ``embedding_reg``, set on the validation triples of RNNLogic's Kinship split (512
    dimensions there: validation MRR 0.68 alone, 0.68 for the rules, 0.75 together; see
    ``docs/results.md``)."""

    dataset: str = "family"
    data_dir: str | None = None
    rules: int = 4
    length: int = 3
    mixed: bool = False
    tau: float = 0.1
    hops: int = 1
    identity: bool = True
    loss: str = "softmax"
    lam: float = 0.0
    epochs: int = 30
    batch_size: int = 32
    lr: float = 0.02
    weight_decay: float = 0.0
    patience: int = 5
    init_std: float = 0.5
    seed: int = 0
    top_rules: int = 3
    progress: bool = False
    embedding: int = 0
    embedding_reg: float = 0.05
    embedding_lr: float = 0.01

    def __post_init__(self) -> None:
        check_rule_options(self)
        if self.mixed and not self.identity:
            raise OptionError(
                "templates of mixed lengths need the identity predicate (identity=True)"
            )
        one_of("loss", self.loss, LOSSES)
        non_negative("init_std", self.init_std)
        at_least("embedding", self.embedding, 0)
        non_negative("embedding_reg", self.embedding_reg)
        positive("embedding_lr", self.embedding_lr)


def check_rule_options(config) -> None:
    """Check the options that every NeuroRule config has (the rules and the training loop): an
    ``OptionError`` naming the first bad one."""
    at_least("rules", config.rules, 1)
    at_least("length", config.length, 1)
    if config.length > MAX_LENGTH:
        raise OptionError(
            f"rule body length L={config.length} is not supported: NeuroRule's templates have"
            f" at most {MAX_LENGTH} atoms (L <= {MAX_LENGTH})"
        )
    positive("tau", config.tau)
    at_least("hops", config.hops, 1)
    non_negative("lam", config.lam)
    at_least("epochs", config.epochs, 1)
    at_least("batch_size", config.batch_size, 1)
    positive("lr", config.lr)
    non_negative("weight_decay", config.weight_decay)
    at_least("patience", config.patience, 1)
    at_least("seed", config.seed, 0)
    at_least("top_rules", config.top_rules, 1)


def build_model(config: NeuroRuleConfig, kg: KnowledgeGraph) -> NeuroRule:
    """The model of ``config`` for ``kg`` (its parameters drawn from ``config.seed``)."""
    torch.manual_seed(config.seed)
    return NeuroRule(
        kg.num_entities,
        kg.num_relations,
        rules=config.rules,
        length=config.length,
        tau=config.tau,
        hops=config.hops,
        identity=config.identity,
        init_std=config.init_std,
        relations=kg.relations,
        mixed=config.mixed,
        embedding=config.embedding,
    )
