"""The loss curves of source Fig. 3: per-class validation loss, mean train and validation loss."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nesy_models.figures import pyplot, save_figure


def plot_loss_curves(histories: list[dict[str, list[float]]], path: str | Path) -> Path:
    """A PNG of each class's validation loss per epoch (thin) and the means (thick)."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = np.arange(1, len(histories[0]["val"]) + 1)
    for digit, history in enumerate(histories):
        ax.plot(epochs, history["val"], linewidth=1, alpha=0.7, label=f"digit {digit}")
    for key, style in (("train", "-"), ("val", "--")):
        mean = np.mean([history[key] for history in histories], axis=0)
        ax.plot(epochs, mean, style, color="black", linewidth=2.5, label=f"mean {key}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cosine loss per re-generated vector (eq. 5)")
    ax.set_title("Vi-SATNet on LeNet-5 MNIST features")
    ax.legend(fontsize=6, ncol=2)
    return save_figure(fig, path)
