"""NeuroRule on scene graphs: perception, the neuro-symbolic bridge and the rule engine, one
module trained end to end.

- The bridge: a shared two-layer network h(s, o) over [f_s ; f_o ; psi(s, o)], and one
  learnable embedding W_P per predicate, t_P(s, o) = sigmoid(W_P . h(s, o) + b_P); the unary
  category predicates likewise, t_c(i) = sigmoid(U_c . f_i).
- With rules (:class:`~nesy_models.neurorule.NeuroRule`), the bridge gives the primitive
  relations and the engine derives the composed ones: its body predicates are the primitive
  relations, the unary predicates as diagonal relations (``cross(X, X)``), the composed
  relations (the truths of the hop before; none on the first hop), their inverses and the
  identity; the intermediate objects are those of the scene (padding has no relation).
- With ``fuse`` (NeuroRule's fused scores), a composed relation's logit is the sum of the
  bridge's and the rules'; without, the rules' alone.
- Without rules (the neural-only baseline), the bridge gives every predicate.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..model import NeuroRule
from .perception import SPATIAL, Perception, spatial_features
from .relations import CATEGORIES, COMPOSED, PREDICATES, PRIMITIVES

__all__ = ["SceneModel", "SceneScores", "engine_relations"]


def engine_relations(unary: bool = True) -> tuple[str, ...]:
    """The relations of the rule engine, in its order: primitive, unary (diagonal, with
    ``unary``), composed."""
    return PRIMITIVES + (CATEGORIES if unary else ()) + COMPOSED


@dataclass(frozen=True)
class SceneScores:
    """One forward pass over a batch of B scenes of at most M objects: ``logits`` (B,
    len(PREDICATES), M, M) of every relation on every ordered pair, ``unary`` (B, C, M) of the
    category predicates, ``pairs`` (B, M, M) the pairs that exist (distinct real objects), and
    with rules the engine's ``adjacency`` (B, P, M, M) and last ``bodies`` (B, H, T, M, M)."""

    logits: torch.Tensor
    unary: torch.Tensor
    pairs: torch.Tensor
    adjacency: torch.Tensor | None = None
    bodies: torch.Tensor | None = None


class SceneModel(nn.Module):
    """Perception + bridge (+ the rule engine ``rules`` over :func:`engine_relations` with the
    composed relations as heads, or None for the neural-only baseline); ``fuse``: the composed
    relations' scores are the bridge's plus the rules' (else the rules' alone)."""

    def __init__(
        self,
        rules: NeuroRule | None,
        features: int = 64,
        hidden: int = 128,
        categories_given: bool = True,
        fuse: bool = True,
    ) -> None:
        super().__init__()
        self.perception = Perception(features, len(CATEGORIES) if categories_given else None)
        self.pair = nn.Sequential(
            nn.Linear(2 * features + SPATIAL, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
        )
        self.fuse = fuse and rules is not None
        given = PRIMITIVES if rules is not None and not fuse else PREDICATES
        self.bridge = nn.Linear(hidden, len(given))
        self.unary = nn.Linear(features, len(CATEGORIES))
        self.rules = rules

    def forward(
        self,
        images: torch.Tensor,
        boxes: torch.Tensor,
        categories: torch.Tensor,
        counts: torch.Tensor,
    ) -> SceneScores:
        """Scores of a batch: ``images`` (B, 3, S, S) uint8 or float in [0, 1], ``boxes`` (B, M,
        4), ``categories`` (B, M), ``counts`` (B,) objects per scene."""
        if images.dtype == torch.uint8:
            images = images.float() / 255.0
        m = boxes.shape[1]
        objects = torch.arange(m, device=boxes.device)[None, :] < counts[:, None]  # (B, M)
        eye = torch.eye(m, dtype=torch.bool, device=boxes.device)
        pairs = objects[:, :, None] & objects[:, None, :] & ~eye
        f = self.perception(images, boxes, categories)
        psi = spatial_features(boxes, images.shape[-1])
        subject = f[:, :, None, :].expand(-1, -1, m, -1)
        pair_input = torch.cat([subject, subject.transpose(1, 2), psi], dim=-1)
        bridge = self.bridge(self.pair(pair_input)).permute(0, 3, 1, 2)  # (B, P', M, M)
        unary = self.unary(f).transpose(1, 2)  # (B, C, M)
        if self.rules is None:
            return SceneScores(bridge, unary, pairs)
        k = len(PRIMITIVES)
        truths = torch.sigmoid(bridge[:, :k]) * pairs[:, None]
        parts = [truths]
        if self.rules.num_relations > len(PRIMITIVES) + len(COMPOSED):
            parts.append(torch.diag_embed(torch.sigmoid(unary) * objects[:, None]))
        parts.append(truths.new_zeros(truths.shape[0], len(COMPOSED), m, m))
        relations = torch.cat(parts, dim=1)
        identity = (eye & objects[:, :, None])[:, None].to(relations.dtype)
        adjacency = torch.cat([relations, relations.transpose(-1, -2), identity], dim=1)
        scores = self.rules(adjacency)
        composed = scores.logits + bridge[:, k:] if self.fuse else scores.logits
        return SceneScores(
            torch.cat([bridge[:, :k], composed], dim=1), unary, pairs, adjacency, scores.bodies
        )
