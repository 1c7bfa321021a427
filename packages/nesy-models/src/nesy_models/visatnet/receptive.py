"""Effective receptive fields (Luo et al. 2016) of feature vectors, drawn over the input image.

The ERF of position i for one image is |d ||f_i(x)|| / dx|, the input pixels that move the
feature vector's magnitude, normalised to a maximum of 1 (source section 3.4.2: the theoretical
fields of a padded CNN cover most of the image, the effective ones show what is used).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from nesy_models.figures import pyplot, save_figure
from nesy_models.visatnet.features import feature_vectors
from nesy_models.visatnet.lenet import LeNet5
from nesy_models.visatnet.msfs import SignificantSet


def effective_receptive_fields(model: LeNet5, image: torch.Tensor) -> torch.Tensor:
    """(n, 28, 28) ERF of every feature position of one image (28, 28), each max 1."""
    fields = []
    for i in range(model.extractor(image.view(1, 1, *image.shape)).flatten(2).shape[-1]):
        pixels = image.detach().clone().view(1, 1, *image.shape).requires_grad_(True)
        norm = torch.linalg.vector_norm(feature_vectors(model.extractor(pixels))[0, i])
        (grad,) = torch.autograd.grad(norm, pixels)
        erf = grad.abs()[0, 0]
        fields.append(erf / erf.max().clamp_min(torch.finfo(erf.dtype).tiny))
    return torch.stack(fields)


def _draw(ax, image, fields, found: SignificantSet, title: str) -> None:
    import matplotlib.pyplot as plt

    ax.imshow(image, cmap="gray")
    colours = plt.get_cmap("tab10")
    for j, i in enumerate(found.kept):
        colour = colours(j % 10 if j % 10 != 3 else 9)  # tab10's 3 is red: kept for the target
        ax.contourf(fields[i], levels=[0.25, 1.01], colors=[colour], alpha=0.3)
        ax.contour(fields[i], levels=[0.25], colors=[colour], linewidths=1)
    ax.contourf(fields[found.target], levels=[0.25, 1.01], colors=["red"], alpha=0.45)
    ax.contour(fields[found.target], levels=[0.25], colors=["red"], linewidths=2)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def plot_significant_sets(
    image: torch.Tensor, fields: torch.Tensor, sets: Sequence[SignificantSet], path: str | Path
) -> Path:
    """A PNG with one panel per set: the target's ERF in red, the set's ERFs in other colours."""
    plt = pyplot()

    fig, axes = plt.subplots(1, len(sets), figsize=(3 * len(sets), 3.3), squeeze=False)
    for ax, found in zip(axes[0], sets, strict=True):
        title = (
            f"target {found.target}, alpha {found.alpha:g}\n|MSF| = {len(found.kept)}, "
            f"cos {found.score:.3f} >= {found.threshold:.3f}"
        )
        _draw(ax, image.numpy(), fields.numpy(), found, title)
    return save_figure(fig, path)
