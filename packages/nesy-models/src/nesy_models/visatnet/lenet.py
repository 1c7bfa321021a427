"""LeNet-5 split into the feature extractor F and the classifier C of the Vi-SATNet paper.

The first convolution has padding 2 (LeCun et al. 1998 on 28x28 MNIST), so F maps an image to a
16 x 5 x 5 feature map: n = 25 feature vectors of dimension K = 16, as in source section 4.1
(``nesy_models.models.LeNet`` has no padding and gives 16 x 4 x 4).

F ends at the second max-pool, before the last ReLU, which opens C: max-pool and ReLU commute,
so this is the same network, and F's vectors are real-valued and (almost surely) non-zero, so
unit-normalising them is well defined (a ReLU output is often all zero on MNIST's background).
C is trained on the unit-normalised feature vectors (``normalise`` in :meth:`LeNet5.forward`), the
form in which Vi-SATNet gives them back, so C is the frozen head the Vi-C agreement reads.
"""

from __future__ import annotations

import torch
from torch import nn

from nesy_models.visatnet.features import feature_map, feature_vectors, unit

CHANNELS, HEIGHT, WIDTH = 16, 5, 5


class LeNet5(nn.Module):
    """LeNet-5 as ``extract`` (F: images -> feature vectors), ``classify`` (C: -> logits)."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.extractor = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, CHANNELS, 5),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(CHANNELS * HEIGHT * WIDTH, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, classes),
        )

    def extract(self, images: torch.Tensor) -> torch.Tensor:
        """Unit feature vectors (B, 25, 16) of images (B, 28, 28) or (B, 1, 28, 28) (eq. 1)."""
        if images.dim() == 3:
            images = images.unsqueeze(1)
        return unit(feature_vectors(self.extractor(images)))

    def classify(self, vectors: torch.Tensor) -> torch.Tensor:
        """Logits (B, classes) from feature vectors (B, 25, 16)."""
        return self.classifier(feature_map(vectors, HEIGHT, WIDTH))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of images through F, unit normalisation and C."""
        return self.classify(self.extract(images))
