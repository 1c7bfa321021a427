"""Training loops: LeNet-5 on MNIST, then one Vi-SATNet per class on the feature vectors.

Each Vi-SATNet is trained on the feature vectors of its own class only (source section 3.3), a
fresh random mask of ``mask_ratio`` per example and epoch, with the cosine loss (eq. 5) on the
masked positions and Adam (lr 2e-3 as in the SATNet paper). Losses are averaged per
re-generated vector, per epoch, on the training and on a held-out validation set (Fig. 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nesy_models.checks import OptionError, at_least, between, positive
from nesy_models.visatnet.features import random_mask
from nesy_models.visatnet.layer import ViSATNet, cosine_loss
from nesy_models.visatnet.lenet import LeNet5


def train_lenet(
    images: torch.Tensor,
    labels: torch.Tensor,
    epochs: int = 1,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
) -> LeNet5:
    """A LeNet-5 trained with cross-entropy and Adam on images (N, 28, 28), labels (N,)."""
    torch.manual_seed(seed)
    model = LeNet5()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for batch in torch.randperm(len(images), generator=generator).split(batch_size):
            loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval().requires_grad_(False)


@dataclass(frozen=True)
class LayerConfig:
    """Hyperparameters of one Vi-SATNet and its training (source section 4.1 defaults)."""

    m: int = 320
    aux: int = 0
    max_iter: int = 40
    eps: float = 1e-4
    mask_ratio: float = 0.4
    epochs: int = 5
    batch_size: int = 8
    lr: float = 2e-3

    def __post_init__(self) -> None:
        """Every option is checked here, once: a bad one is an OptionError naming it."""
        at_least("m", self.m, 1)
        at_least("aux", self.aux, 0)
        at_least("max_iter", self.max_iter, 1)
        positive("eps", self.eps)
        between("mask_ratio", self.mask_ratio, 0.0, 1.0, low_open=True)  # 0: nothing to learn
        at_least("epochs", self.epochs, 1)
        at_least("batch_size", self.batch_size, 1)
        positive("lr", self.lr)


def mask_ratios(ratios: tuple[float, ...]) -> None:
    """Mask ratios to evaluate at: at least one, each in [0, 1]."""
    if not ratios:
        raise OptionError("ratios must name at least one mask ratio, got none")
    for ratio in ratios:
        between("mask ratio", ratio, 0.0, 1.0)


@torch.no_grad()
def mean_loss(
    layer: ViSATNet, vectors: torch.Tensor, ratio: float, generator: torch.Generator
) -> float:
    """The eq. 5 loss per re-generated vector on ``vectors`` under fresh masks of ``ratio``."""
    mask = random_mask(len(vectors), vectors.shape[1], ratio, generator)
    return float(cosine_loss(layer(vectors, mask), vectors, mask))


def train_layer(
    train: torch.Tensor, val: torch.Tensor, config: LayerConfig, seed: int = 0
) -> tuple[ViSATNet, dict[str, list[float]]]:
    """A Vi-SATNet trained on unit vectors ``train`` (N, n, k); per-epoch train/val losses."""
    layer = ViSATNet(
        train.shape[1], train.shape[2], config.m, config.aux, config.max_iter, config.eps, seed
    )
    optimiser = torch.optim.Adam(layer.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"train": [], "val": []}
    for _ in range(config.epochs):
        total, count = 0.0, 0
        for batch in torch.randperm(len(train), generator=generator).split(config.batch_size):
            mask = random_mask(len(batch), train.shape[1], config.mask_ratio, generator)
            loss = cosine_loss(layer(train[batch], mask), train[batch], mask)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total, count = total + loss.item() * len(batch), count + len(batch)
        history["train"].append(total / count)
        history["val"].append(mean_loss(layer, val, config.mask_ratio, generator))
    return layer, history
