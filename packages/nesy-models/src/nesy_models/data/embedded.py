"""The embedded fallback: scikit-learn's bundled 8x8 digits, upsampled to look like MNIST.

No download: ``sklearn.datasets.load_digits`` ships with scikit-learn. Each 8x8 image (values
0..16) is upsampled bilinearly to 20x20 and centred in a 28x28 frame with a 4-pixel black border,
as MNIST centres its digits in a 20x20 box. The split is fixed by position (every fifth image is
test: 1438 train, 359 test), so it is the same everywhere and needs no random generator.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .digits import DigitImages, check_split, frozen

SOURCE_SIZE, DIGIT_SIZE, FRAME_SIZE = 8, 20, 28
TEST_EVERY = 5


def bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix M so that M @ x resamples x bilinearly (pixel centres aligned)."""
    centres = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    low = np.floor(centres).astype(int)
    high = np.minimum(low + 1, n_in - 1)
    weight = centres - low
    matrix = np.zeros((n_out, n_in))
    np.add.at(matrix, (np.arange(n_out), low), 1 - weight)
    np.add.at(matrix, (np.arange(n_out), high), weight)
    return matrix


def upsample(images: np.ndarray) -> np.ndarray:
    """(N, 8, 8) images in [0, 1] -> (N, 28, 28): bilinear to 20x20 inside a 4-pixel border."""
    resample = bilinear_matrix(SOURCE_SIZE, DIGIT_SIZE)
    digits = resample @ images @ resample.T
    border = (FRAME_SIZE - DIGIT_SIZE) // 2
    return np.pad(digits, ((0, 0), (border, border), (border, border)))


@cache
def load_embedded_digits(split: str = "train") -> DigitImages:
    """The embedded digits of ``split`` ("train" or "test"), source ``"embedded"``; cached, as
    the arrays are read-only."""
    check_split(split)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = upsample(bunch.images / 16.0).astype(np.float32)
    is_test = np.arange(len(images)) % TEST_EVERY == TEST_EVERY - 1
    keep = is_test if split == "test" else ~is_test
    labels = bunch.target[keep].astype(np.int64)
    return DigitImages(frozen(images[keep]), frozen(labels), "embedded")
