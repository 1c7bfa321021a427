"""NeuroRule checkpoints: the trained model with its options and its knowledge graph, so that
``nesy rules`` and ``nesy explain neurorule`` need neither the data folder nor a retraining, and
where training stands after each epoch, so that an interrupted run resumes exactly.

One file (``torch.save`` of plain tensors, lists and dicts: it loads with
``weights_only=True``), written atomically: a crash keeps an earlier file whole. A checkpoint
of another knowledge graph, or of other options, is refused and kept as it is.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..checks import CheckpointError, read_checkpoint, write_atomically
from ..data.digits import frozen
from ..data.kg import SPLITS, KnowledgeGraph
from .config import NeuroRuleConfig, build_model
from .model import NeuroRule

FORMAT = "nesy-neurorule"
WHAT = "a NeuroRule checkpoint (from nesy train neurorule --checkpoint)"
#: options that may change when a run resumes (the others must be those it was started with)
RESUMABLE = frozenset({"epochs", "patience", "progress", "top_rules", "data_dir"})


@dataclass(frozen=True)
class Trained:
    """A trained NeuroRule model (its best epoch), the options it was trained with and its
    knowledge graph."""

    model: NeuroRule
    config: NeuroRuleConfig
    kg: KnowledgeGraph


@dataclass
class Progress:
    """Where a training run stands after an epoch: enough to resume it exactly (the model's and
    the optimiser's state, the batch order's generator, the history and the early stopping)."""

    weights: dict | None = None
    optimizer: dict | None = None
    generator: torch.Tensor | None = None
    history: list[dict] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    best_mrr: float = -1.0
    best_epoch: int = 0
    stale: int = 0


def save_checkpoint(
    path: str | os.PathLike, trained: Trained, progress: Progress | None = None
) -> None:
    """Write ``trained`` (and, during training, its ``progress``) to ``path`` (its folder made
    if missing)."""
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
        "progress": None if progress is None else asdict(progress),
    }
    write_atomically(path, lambda tmp: torch.save(payload, tmp))


def _payload(path: str | os.PathLike) -> dict:
    payload = read_checkpoint(path, lambda p: torch.load(p, weights_only=True), WHAT)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not {WHAT}")
    return payload


def load_checkpoint(path: str | os.PathLike) -> Trained:
    """The model saved at ``path``; a file that is not a NeuroRule checkpoint (another model's,
    text, truncated) is a :class:`~nesy_models.checks.CheckpointError` naming it, and is kept."""
    return _trained(_payload(path))


def _trained(payload: dict) -> Trained:
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
    state = dict(payload["state"])
    if "eta" in state and state["eta"].ndim == 0:  # saved when one weight served every head
        state["eta"] = state["eta"].expand_as(model.eta).clone()
    model.load_state_dict(state)
    model.eval()
    return Trained(model, config, kg)


def resume_checkpoint(
    path: str | os.PathLike, config: NeuroRuleConfig, kg: KnowledgeGraph
) -> tuple[Trained, Progress]:
    """The best model and the progress saved at ``path``, to go on training ``config`` on
    ``kg``. A checkpoint of another knowledge graph or of other options (those outside
    :data:`RESUMABLE`) is a :class:`~nesy_models.checks.CheckpointError` saying which; the file
    is kept."""
    payload = _payload(path)
    trained = _trained(payload)
    saved = trained.kg
    if (saved.name, saved.entities, saved.relations) != (kg.name, kg.entities, kg.relations):
        raise CheckpointError(
            f"{path} is a checkpoint of the knowledge graph {saved.name!r} ({saved.num_entities}"
            f" entities, {saved.num_relations} relations), not of {kg.name!r}"
            f" ({kg.num_entities}, {kg.num_relations}); it is kept: give another --checkpoint"
        )
    old, new = asdict(trained.config), asdict(config)
    changed = [k for k in new if k not in RESUMABLE and old.get(k) != new[k]]
    if changed:
        diffs = ", ".join(f"{k} {old.get(k)!r} -> {new[k]!r}" for k in changed)
        raise CheckpointError(
            f"{path} was trained with other options ({diffs}); it is kept: resume with its"
            " options or give another --checkpoint"
        )
    progress = payload.get("progress")
    if progress is None:
        raise CheckpointError(f"{path} holds a trained model but no training progress to resume")
    return trained, Progress(**progress)
