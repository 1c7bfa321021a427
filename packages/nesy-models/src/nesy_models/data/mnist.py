"""MNIST from the standard IDX files, or the embedded fallback when no directory is given.

Where the files are looked for, in order: ``data_dir`` when given; else ``$NESY_DATA/mnist`` when
the ``NESY_DATA`` environment variable is set; else nowhere, and the embedded 8x8 digits
(upsampled) stand in. A given directory may hold the files itself or in a ``mnist/``
subdirectory, so ``--data-dir ../shared/data`` and ``--data-dir ../shared/data/mnist`` both work.
Each file may be gzip'd (``.gz``) or not. Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .digits import DigitImages, check_split, frozen
from .embedded import load_embedded_digits
from .errors import DataError
from .idx import read_idx

ENV_VAR = "NESY_DATA"
SUBDIR = "mnist"
IMAGE_SHAPE = (28, 28)
# split -> (images file, labels file), without the optional ".gz"
FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def mnist_directory(data_dir: str | Path | None = None) -> Path | None:
    """The directory to read MNIST from, or None for the embedded fallback."""
    if data_dir is None:
        root = os.environ.get(ENV_VAR)
        if not root:
            return None
        data_dir = Path(root) / SUBDIR
    directory = Path(data_dir)
    if not directory.is_dir():
        raise DataError(f"MNIST directory {directory} does not exist")
    nested = directory / SUBDIR
    holds_files = any(directory.glob("*-ubyte*"))
    return nested if not holds_files and nested.is_dir() else directory


def find_file(directory: Path, name: str) -> Path:
    """``name`` or ``name.gz`` in ``directory``; an error naming the file when neither exists."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"MNIST file {name}[.gz] not found in {directory}")


def read_mnist(directory: Path, split: str) -> DigitImages:
    """The IDX files of ``split`` in ``directory``, checked for shape and consistency."""
    image_path, label_path = (find_file(directory, name) for name in FILES[split])
    raw_images, raw_labels = read_idx(image_path), read_idx(label_path)
    if raw_images.ndim != 3 or raw_images.shape[1:] != IMAGE_SHAPE or raw_images.dtype != np.uint8:
        raise DataError(
            f"{image_path}: expected uint8 images of shape (N, 28, 28), "
            f"got {raw_images.dtype} {raw_images.shape}"
        )
    if raw_labels.ndim != 1 or len(raw_labels) != len(raw_images):
        raise DataError(
            f"{label_path}: expected {len(raw_images)} labels (one per image of {image_path.name}),"
            f" got shape {raw_labels.shape}"
        )
    if raw_labels.size and not 0 <= raw_labels.min() <= raw_labels.max() <= 9:
        raise DataError(f"{label_path}: labels outside 0..9")
    images = raw_images.astype(np.float32) / np.float32(255)
    return DigitImages(frozen(images), frozen(raw_labels.astype(np.int64)), "mnist")


def load_mnist(data_dir: str | Path | None = None, split: str = "train") -> DigitImages:
    """MNIST ``split`` ("train" or "test") as float32 (N, 28, 28) images in [0, 1] and int64
    labels; from ``data_dir``, else ``$NESY_DATA/mnist``, else the embedded digits."""
    check_split(split)
    directory = mnist_directory(data_dir)
    if directory is None:
        return load_embedded_digits(split)
    return read_mnist(directory, split)
