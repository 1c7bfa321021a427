"""Checkpoints of NeuroRule on scene graphs: the trained model and its options (the scenes are
regenerated from the options' seed), so that ``nesy explain neurorule-scenes`` needs no
retraining. One ``torch.save`` of plain tensors and dicts (it loads with ``weights_only=True``),
written atomically; a file of another kind (the knowledge-graph NeuroRule's checkpoint, another
model's, text) is refused with what it is not, and kept."""

from __future__ import annotations

import os
from dataclasses import asdict

import torch

from ...checks import CheckpointError, read_checkpoint, write_atomically
from .config import SceneConfig, build_scene_model
from .model import SceneModel

__all__ = ["load_scene_checkpoint", "save_scene_checkpoint"]

FORMAT = "nesy-neurorule-scenes"
WHAT = "a NeuroRule scene-graph checkpoint (from nesy train neurorule-scenes --checkpoint)"


def save_scene_checkpoint(path: str | os.PathLike, model: SceneModel, config: SceneConfig) -> None:
    """Write ``model`` and ``config`` to ``path`` (atomically, its folder made if missing)."""
    payload = {"format": FORMAT, "config": asdict(config), "state": model.state_dict()}
    write_atomically(path, lambda tmp: torch.save(payload, tmp))


def load_scene_checkpoint(path: str | os.PathLike) -> tuple[SceneModel, SceneConfig]:
    """The model (in eval mode) and options saved at ``path``."""
    payload = read_checkpoint(path, lambda p: torch.load(p, weights_only=True), WHAT)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        kind = payload.get("format") if isinstance(payload, dict) else None
        other = (
            " (it is a knowledge-graph NeuroRule checkpoint)" if kind == "nesy-neurorule" else ""
        )
        raise CheckpointError(f"{path} is not {WHAT}{other}")
    saved = payload["config"]
    config = SceneConfig(**{**saved, "scenes": tuple(saved["scenes"])})
    model = build_scene_model(config)
    model.load_state_dict(payload["state"])
    return model.eval(), config
