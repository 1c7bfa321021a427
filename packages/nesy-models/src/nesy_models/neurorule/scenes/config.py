"""The options of NeuroRule on generated scene graphs, checked when made, the model they
describe, and the source's ablation variants A to D."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...checks import OptionError, at_least, between, one_of, positive
from ..config import check_rule_options
from ..model import NeuroRule
from .generate import MAX_OBJECTS
from .model import SceneModel, engine_relations
from .relations import COMPOSED

__all__ = ["ABLATION", "MODELS", "SceneConfig", "build_scene_model"]

MODELS = ("rules", "neural")

#: NeuroRule's ablation (its table 2): A neural only, B rules without chaining (L = 1, one
#: hop), C the full model without Omega, D the full model (L = 4, lambda = 0.1).
ABLATION = {
    "A": {"model": "neural"},
    "B": {"model": "rules", "length": 1, "hops": 1},
    "C": {"model": "rules", "lam": 0.0},
    "D": {"model": "rules"},
}


@dataclass(frozen=True)
class SceneConfig:
    """Options of :func:`.train.train_scenes` (a bad value is an ``OptionError`` naming it).

    ``model``: ``rules`` (the bridge gives the primitive relations, the rule engine the composed
    ones) or ``neural`` (the bridge gives every relation). The engine: ``rules`` templates per
    composed relation of ``length`` atoms at most (every length 1..L in turn with ``mixed``),
    ``hops`` of forward chaining, smooth-max temperature ``tau``; ``lam`` weighs Omega, reached
    linearly over the first ``warmup`` epochs, the best epoch chosen among the later ones, for
    every variant alike (at full weight from the start, its L1 term, a constant pull under
    Adam, removed every rule whose body was still unsure, leaving one single-atom rule per
    composed relation; a run shorter than the warm-up keeps its last epoch).
    ``fuse``: a composed relation's score is the bridge's plus the rules' (NeuroRule's fused
    scores); off by default, as the bridge's part learns category pairs that the zero-shot
    scenes do not have (docs/results.md). ``unary``: the category predicates join the bodies
    as diagonal relations; off by default (with them the rules learned category shortcuts such
    as ``travel_on(X, Z) :- above(X, Y), bar(Y, Z)`` and no planted rule, 600 scenes).
    AdamW at ``lr`` (perception and bridge, with ``weight_decay``) and ``rule_lr`` (the rules'
    slot logits, weights and biases, undecayed: they are few and must move far).
    The data: ``scenes`` = (train, valid, test, zero-shot) generated from ``data_seed`` on a
    ``canvas`` pixels wide, ``noise`` the share of composed training triples left unlabelled,
    ``categories_given`` (PredCls: the categories are embedded in the entity features; else
    they are read from the pixels)."""

    model: str = "rules"
    rules: int = 16
    length: int = 4
    mixed: bool = True
    hops: int = 2
    tau: float = 0.1
    unary: bool = False
    fuse: bool = False
    lam: float = 0.1
    warmup: int = 15
    epochs: int = 40
    batch_size: int = 16
    lr: float = 3e-3
    rule_lr: float = 0.02
    weight_decay: float = 1e-4
    patience: int = 8
    features: int = 64
    hidden: int = 128
    scenes: tuple[int, int, int, int] = (1500, 200, 200, 200)
    data_seed: int = 0
    canvas: int = 64
    noise: float = 0.0
    categories_given: bool = True
    seed: int = 0
    top_rules: int = 3
    progress: bool = False

    def __post_init__(self) -> None:
        one_of("model", self.model, MODELS)
        check_rule_options(self)
        at_least("warmup", self.warmup, 1)
        positive("rule_lr", self.rule_lr)
        at_least("features", self.features, 17)
        at_least("hidden", self.hidden, 1)
        if len(self.scenes) != 4:
            raise OptionError(
                f"scenes needs 4 sizes (train, valid, test, zero-shot): {self.scenes}"
            )
        for name, size in zip(("train", "valid", "test", "zero-shot"), self.scenes, strict=True):
            at_least(f"{name} scenes", size, 1)
        at_least("data_seed", self.data_seed, 0)
        at_least("canvas", self.canvas, 48)
        between("noise", self.noise, 0.0, 1.0)


def build_scene_model(config: SceneConfig) -> SceneModel:
    """The model of ``config``, its parameters drawn from ``config.seed``."""
    torch.manual_seed(config.seed)
    rules = None
    if config.model == "rules":
        relations = engine_relations(config.unary)
        rules = NeuroRule(
            MAX_OBJECTS,
            len(relations),
            rules=config.rules,
            length=config.length,
            tau=config.tau,
            hops=config.hops,
            mixed=config.mixed and config.length > 1,
            relations=relations,
            heads=[relations.index(c) for c in COMPOSED],
        )
    return SceneModel(rules, config.features, config.hidden, config.categories_given, config.fuse)
