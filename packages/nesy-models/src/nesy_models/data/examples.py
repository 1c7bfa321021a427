"""What every task dataset shares: examples as rows of indices into one pool of digit images.

Holding indices, not copies, keeps a data set small (an N=100 addition example is 200 images) and
lets the torch and JAX training loops gather a batch's images themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .errors import DataError


@dataclass(frozen=True)
class IndexedExamples:
    """``images`` (M, 28, 28) float32, the pool; ``index`` (E, P) int64, the P images of each of
    the E examples, as rows of ``images``."""

    images: np.ndarray
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """The images of examples ``rows``: float32 (len(rows), P, 28, 28), a fresh array."""
        return self.images[self.index[rows]]


def holdout(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows 0..n-1 split at random (from ``seed``) into (kept, held out), ``fraction`` held out;
    the held-out rows make a validation set whose images training never sees."""
    if not 0 <= fraction < 1:
        raise DataError(f"validation fraction must be in [0, 1), got {fraction}")
    order = np.random.default_rng(seed).permutation(n)
    cut = int(round(n * fraction))
    return np.sort(order[cut:]), np.sort(order[:cut])


def all_rows(n: int, rows: np.ndarray | None) -> np.ndarray:
    """``rows`` as an int64 array, or every row 0..n-1 when it is None."""
    return np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)


class TaskSplits(NamedTuple):
    """The train, validation and test sets of one task."""

    train: IndexedExamples
    val: IndexedExamples
    test: IndexedExamples


def child_seeds(seed: int, count: int) -> list[int]:
    """``count`` independent seeds derived from ``seed``, one per random choice of a task."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count)]
