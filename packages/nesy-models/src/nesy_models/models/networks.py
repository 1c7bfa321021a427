"""The perception network of the DeepLog experiments: LeNet on 28x28 images, with a task head.

``LeNet`` maps a batch of images to per-image features and class logits. The task head (used by
logic in the loss and by the neural baseline, the DeepLog paper Appendix C) reads the horizontally
joined features of all the images of an example and predicts the task's answer directly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class LeNet(nn.Module):
    """LeNet-5 as in DeepProbLog's MNIST experiments: 2 conv layers, 3 dense layers.

    Images come in [0, 1] (every data loader gives them so); with ``centre`` (the default) the
    network first maps them to [-1, 1] (``2 x - 1``), as DeepProbLog's and DeepLog's
    ``Normalize(0.5, 0.5)`` does: one epoch of MNIST addition then reaches a higher accuracy
    (docs/benchmarks.md, "MNIST addition training recipe").
    """

    def __init__(self, classes: int = 10, centre: bool = True):
        super().__init__()
        self.centre = centre
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 6, 5),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Conv2d(6, 16, 5),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Flatten(),
        )
        self.features = nn.Sequential(nn.Linear(16 * 4 * 4, 120), nn.ReLU(), nn.Linear(120, 84))
        self.classifier = nn.Sequential(nn.ReLU(), nn.Linear(84, classes))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (M, 84), logits (M, classes)) of images (M, 28, 28) or (M, 1, 28, 28)."""
        if images.dim() == 3:
            images = images.unsqueeze(1)
        if self.centre:
            images = 2 * images - 1
        features = self.features(self.encoder(images))
        return features, self.classifier(features)


@torch.no_grad()
def classify(net: LeNet, images: np.ndarray) -> np.ndarray:
    """``net``'s class of each image (M, 28, 28)."""
    return net(torch.tensor(images))[1].argmax(-1).numpy()


class TaskHead(nn.Module):
    """The task's answer (``outputs`` logits) from the joined features of ``inputs`` images."""

    def __init__(self, inputs: int, outputs: int, hidden: int = 128, features: int = 84):
        super().__init__()
        self.net = nn.Sequential(
            nn.ReLU(), nn.Linear(inputs * features, hidden), nn.ReLU(), nn.Linear(hidden, outputs)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Logits (B, outputs) from per-image features (B, inputs, features)."""
        return self.net(features.flatten(1))
