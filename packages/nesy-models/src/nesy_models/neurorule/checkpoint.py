"""NeuroRule checkpoints: the trained model with its options and its knowledge graph, so that
``nesy rules`` and ``nesy explain neurorule`` need neither the data folder nor a retraining.

One file (``torch.save`` of plain tensors, lists and dicts: it loads with
``weights_only=True``), written atomically: a crash keeps an earlier file whole.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..checks import CheckpointError, read_checkpoint
from ..data.digits import frozen
from ..data.kg import SPLITS, KnowledgeGraph
from .model import NeuroRule
from .train import NeuroRuleConfig, build_model

FORMAT = "nesy-neurorule"


@dataclass(frozen=True)
class Trained:
    """A trained NeuroRule model, the options it was trained with and its knowledge graph."""

    model: NeuroRule
    config: NeuroRuleConfig
    kg: KnowledgeGraph


def save_checkpoint(path: str | os.PathLike, trained: Trained) -> None:
    """Write ``trained`` to ``path`` (its folder made if missing)."""
    kg = trained.kg
    payload = {
        "format": FORMAT,
        "config": asdict(trained.config),
        "state": trained.model.state_dict(),
        "kg": {
            "name": kg.name,
            "entities": list(kg.entities),
            "relations": list(kg.relations),
            **{split: torch.from_numpy(kg.split(split).copy()) for split in SPLITS},
            "unseen": dict(kg.unseen),
        },
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(path: str | os.PathLike) -> Trained:
    """The model saved at ``path``; a file that is not a NeuroRule checkpoint (another model's,
    text, truncated) is a :class:`~nesy_models.checks.CheckpointError` naming it, and is kept."""
    what = "a NeuroRule checkpoint (from nesy train neurorule --checkpoint)"
    payload = read_checkpoint(path, lambda p: torch.load(p, weights_only=True), what)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not {what}")
    saved = payload["kg"]
    kg = KnowledgeGraph(
        saved["name"],
        tuple(saved["entities"]),
        tuple(saved["relations"]),
        *(frozen(saved[split].numpy().astype(np.int64)) for split in SPLITS),
        saved["unseen"],
    )
    config = NeuroRuleConfig(**payload["config"])
    model = build_model(config, kg)
    model.load_state_dict(payload["state"])
    model.eval()
    return Trained(model, config, kg)
