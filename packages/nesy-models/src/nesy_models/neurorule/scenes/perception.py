"""Perception for scene graphs: entity features pooled from each object's box of a small CNN's
feature map, and the spatial features psi(s, o) of every ordered pair of boxes.

- :class:`Perception`: three convolutions (3 -> 16 -> 32 -> 32 channels, the last two of
  stride 2), then ROI pooling by bilinear sampling of a 3 x 3 grid inside each box (ROI Align,
  with ``torch.nn.functional.grid_sample``), a linear map to the feature size, and, when the
  categories are given (PredCls), a learned embedding of each object's category.
- :func:`spatial_features`: psi(s, o) = the centre offsets normalised by the subject's size and
  by the canvas, the log scale ratios (width, height), the IoU, the normalised centre distance,
  the orientation (sine and cosine of the offset's angle) and, beyond NeuroRule's list, the four
  signed gaps between the boxes' edges over the canvas (whether two boxes touch, which the
  centre offsets tell a linear layer only approximately).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GRID", "SPATIAL", "Perception", "spatial_features"]

GRID = 3  # ROI pooling samples GRID x GRID points per box
SPATIAL = 14  # the size of psi(s, o)


def spatial_features(boxes: torch.Tensor, canvas: int) -> torch.Tensor:
    """psi(s, o) for every ordered pair of ``boxes`` (..., M, 4) (x0, y0, x1, y1, pixels):
    (..., M, M, :data:`SPATIAL`)."""
    b = boxes.float()
    x0, y0, x1, y1 = b.unbind(-1)
    w, h = (x1 - x0).clamp_min(1.0), (y1 - y0).clamp_min(1.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    dx = cx[..., None, :] - cx[..., :, None]  # o's centre minus s's
    dy = cy[..., None, :] - cy[..., :, None]
    ws, hs, wo, ho = w[..., :, None], h[..., :, None], w[..., None, :], h[..., None, :]
    ix = (
        torch.minimum(x1[..., :, None], x1[..., None, :])
        - torch.maximum(x0[..., :, None], x0[..., None, :])
    ).clamp_min(0.0)
    iy = (
        torch.minimum(y1[..., :, None], y1[..., None, :])
        - torch.maximum(y0[..., :, None], y0[..., None, :])
    ).clamp_min(0.0)
    inter = ix * iy
    iou = inter / (ws * hs + wo * ho - inter)
    distance = torch.sqrt(dx**2 + dy**2)
    angle = torch.atan2(dy, dx)
    gaps = torch.stack(
        [
            x0[..., None, :] - x1[..., :, None],  # o's left edge past s's right edge
            y0[..., None, :] - y1[..., :, None],  # o's top below s's bottom
            x0[..., :, None] - x1[..., None, :],
            y0[..., :, None] - y1[..., None, :],
        ],
        dim=-1,
    )
    features = [
        dx / ws,
        dy / hs,
        dx / canvas,
        dy / canvas,
        torch.log(wo / ws),
        torch.log(ho / hs),
        iou,
        distance / canvas,
        torch.sin(angle),
        torch.cos(angle),
    ]
    return torch.cat([torch.stack(features, dim=-1), gaps / canvas * 8.0], dim=-1)


class Perception(nn.Module):
    """Entity features f_i (``features`` wide) of each object from the image and its box."""

    def __init__(self, features: int = 64, categories: int | None = None) -> None:
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        given = categories is not None
        self.pool = nn.Linear(32 * GRID * GRID, features - (16 if given else 0))
        self.embedding = nn.Embedding(categories, 16) if given else None
        self.features = features

    def forward(
        self, images: torch.Tensor, boxes: torch.Tensor, categories: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``images`` (B, 3, S, S) in [0, 1], ``boxes`` (B, M, 4) pixels, ``categories`` (B, M)
        (-1 for padding; used when the model embeds categories): f (B, M, features)."""
        feature_map = self.cnn(images)
        b, m = boxes.shape[:2]
        size = images.shape[-1]
        steps = (torch.arange(GRID, dtype=torch.float32, device=images.device) + 0.5) / GRID
        x0, y0, x1, y1 = (boxes.float() / size * 2 - 1).unbind(-1)  # grid_sample's [-1, 1]
        xs = x0[..., None] + (x1 - x0)[..., None] * steps  # (B, M, G)
        ys = y0[..., None] + (y1 - y0)[..., None] * steps
        grid = torch.stack(torch.broadcast_tensors(xs[..., None, :], ys[..., :, None]), dim=-1)
        sampled = F.grid_sample(
            feature_map, grid.reshape(b, m * GRID, GRID, 2), align_corners=False
        )  # (B, C, M * G, G)
        pooled = sampled.reshape(b, -1, m, GRID, GRID).permute(0, 2, 1, 3, 4).flatten(2)
        f = torch.relu(self.pool(pooled))
        if self.embedding is not None:
            f = torch.cat([f, self.embedding(categories.clamp_min(0))], dim=-1)
        return f
