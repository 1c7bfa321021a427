"""A map with its true and predicted paths, as a PNG (people look at paths, they do not read
them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..figures import pyplot, save_figure
from .terrain import TILE


def plot_paths(
    image: np.ndarray, truth: np.ndarray, predicted: np.ndarray, path: str | Path, title: str = ""
) -> Path:
    """A PNG of the map ``image`` (3, 8N, 8N) with the label path ``truth`` (N, N) as white
    squares and the path found on the predicted costs ``predicted`` (N, N) as red dots."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(image.transpose(1, 2, 0))
    for mask, style in (
        (
            truth,
            dict(
                marker="s",
                s=60,
                facecolors="none",
                edgecolors="white",
                linewidths=1.5,
                label="optimal path (label)",
            ),
        ),
        (predicted, dict(marker="o", s=14, color="red", label="path on predicted costs")),
    ):
        rows, cols = np.nonzero(mask)
        ax.scatter((cols + 0.5) * TILE - 0.5, (rows + 0.5) * TILE - 0.5, **style)
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=2, fontsize=7)
    return save_figure(fig, path)
