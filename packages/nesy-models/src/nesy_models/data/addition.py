"""MNIST addition with N-digit numbers, generated deterministically from a seed.

As in the literature (DeepProbLog, DeepStochLog, A-NeSI), the images are shuffled with the seed
and cut into consecutive groups of 2N: the first N images spell the first number, the next N the
second, most significant digit first. Every image is used at most once per epoch (the leftover
len % 2N images are not used). The label is the sum; the digits are kept for evaluation and
explanations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .digits import DigitImages
from .errors import DataError
from .examples import IndexedExamples, TaskSplits, all_rows, child_seeds, holdout

INT64_DIGITS = 18  # sums with at most this many digits fit in int64


@dataclass(frozen=True)
class AdditionSet(IndexedExamples):
    """``index`` (E, 2N): images of the first then the second number; ``digits`` (E, 2N) int64,
    their labels; ``sum_digits`` (E, N + 1) int64, the digits of the sum, most significant first
    (the targets of the carry encoding)."""

    digits: np.ndarray
    sum_digits: np.ndarray

    @property
    def n_digits(self) -> int:
        return self.index.shape[1] // 2

    @property
    def sums(self) -> np.ndarray:
        """The sums, (E,): int64 when they fit (N <= 17), else Python ints (dtype object)."""
        if self.sum_digits.shape[1] <= INT64_DIGITS:
            powers = 10 ** np.arange(self.sum_digits.shape[1] - 1, -1, -1, dtype=np.int64)
            return self.sum_digits @ powers
        return np.array([int("".join(map(str, row))) for row in self.sum_digits], dtype=object)


def add_digits(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Digit-wise sum of two (E, N) numbers, most significant first: (E, N + 1), with carries."""
    total = np.zeros((len(first), first.shape[1] + 1), dtype=np.int64)
    carry = np.zeros(len(first), dtype=np.int64)
    for position in range(first.shape[1] - 1, -1, -1):
        column = first[:, position] + second[:, position] + carry
        total[:, position + 1], carry = column % 10, column // 10
    total[:, 0] = carry
    return total


def addition_dataset(
    source: DigitImages, n_digits: int, seed: int, rows: np.ndarray | None = None
) -> AdditionSet:
    """The addition examples built from images ``rows`` of ``source`` (all when None)."""
    if n_digits < 1:
        raise DataError(f"MNIST addition needs n_digits >= 1, got {n_digits}")
    order = np.random.default_rng(seed).permutation(all_rows(len(source.images), rows))
    count = len(order) // (2 * n_digits)
    if count == 0:
        raise DataError(
            f"{len(order)} images are too few for one {n_digits}-digit addition example"
            f" ({2 * n_digits} images)"
        )
    index = order[: count * 2 * n_digits].reshape(count, 2 * n_digits)
    digits = source.labels[index]
    sum_digits = add_digits(digits[:, :n_digits], digits[:, n_digits:])
    return AdditionSet(source.images, index, digits, sum_digits)


def addition_splits(
    train: DigitImages,
    test: DigitImages,
    n_digits: int,
    seed: int = 0,
    val_fraction: float = 0.1,
) -> TaskSplits:
    """Train and validation sets from disjoint images of ``train`` (``val_fraction`` held out),
    the test set from ``test``; all a function of ``seed``."""
    split_seed, train_seed, val_seed, test_seed = child_seeds(seed, 4)
    kept, held = holdout(len(train.images), val_fraction, split_seed)
    return TaskSplits(
        addition_dataset(train, n_digits, train_seed, kept),
        addition_dataset(train, n_digits, val_seed, held),
        addition_dataset(test, n_digits, test_seed),
    )
