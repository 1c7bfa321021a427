"""Data augmentation: random translations of digit images (a standard MNIST regulariser).

Deterministic: the shifts of a batch come from a seed, so a resumed run draws the same ones.
"""

from __future__ import annotations

import numpy as np

from .errors import DataError


def random_shifts(seed: list[int], shape: tuple[int, ...], most: int) -> np.ndarray:
    """Integer shifts (..., 2) in [-most, most] (rows, columns) for images of batch ``shape``."""
    return np.random.default_rng(seed).integers(-most, most + 1, size=(*shape, 2))


def shift_images(images: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """``images`` (..., H, W) moved by ``shifts`` (..., 2) pixels, the uncovered border black."""
    if shifts.shape != (*images.shape[:-2], 2):
        raise DataError(f"shifts of shape {shifts.shape} for images of shape {images.shape}")
    height, width = images.shape[-2:]
    most = int(np.abs(shifts).max(initial=0))
    flat = images.reshape(-1, height, width)
    padded = np.pad(flat, ((0, 0), (most, most), (most, most)))
    dy, dx = shifts.reshape(-1, 2).T
    rows = np.arange(height)[None, :] + most - dy[:, None]  # (M, H)
    cols = np.arange(width)[None, :] + most - dx[:, None]  # (M, W)
    moved = padded[np.arange(len(flat))[:, None, None], rows[:, :, None], cols[:, None, :]]
    return moved.reshape(images.shape)
