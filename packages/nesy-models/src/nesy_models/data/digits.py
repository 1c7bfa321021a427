"""The digit-image type every loader returns and every task dataset draws from."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .errors import DataError

SPLITS = ("train", "test")


class DigitImages(NamedTuple):
    """Images float32 (N, 28, 28) in [0, 1], labels int64 (N,) in 0..9, and where they came from:
    ``source`` is ``"mnist"`` (IDX files) or ``"embedded"`` (scikit-learn's 8x8 digits)."""

    images: np.ndarray
    labels: np.ndarray
    source: str


def frozen(array: np.ndarray) -> np.ndarray:
    """``array`` made read-only, so a loaded data set cannot be changed by accident."""
    array.flags.writeable = False
    return array


def check_split(split: str) -> None:
    """An error naming ``split`` unless it is one of SPLITS."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
