"""The perception network: a small CNN over the whole map image that gives each cell a
distribution over the terrain classes.

Three 3 x 3 convolutions, each followed by 2 x 2 max pooling, take the 8N x 8N image to an
N x N grid (one position per cell, seeing its tile and a border of its neighbours'); a 1 x 1
convolution gives each cell's class logits. 7,573 parameters (the published Warcraft models use
the first block of a ResNet18, about 160,000).
"""

from __future__ import annotations

import torch
from torch import nn

from .terrain import TILE


class TerrainNet(nn.Module):
    """Images (B, 3, 8N, 8N) -> cell class logits (B, N*N, classes), cells row by row."""

    def __init__(self, classes: int = 5, width: int = 16):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * width, classes, 1),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images).flatten(2).transpose(1, 2)

    @staticmethod
    def size(images: torch.Tensor) -> int:
        """N, the cells per side of maps ``images`` (B, 3, 8N, 8N)."""
        return images.shape[-1] // TILE
