"""Minibatches for a training loop, the same for the torch and the JAX backends.

Batches are arrays of example rows, a function of (seed, epoch) only, so a resumed run draws the
same batches; ``IndexedExamples.gather`` turns rows into a NumPy image batch, which JAX takes as
is and ``to_torch`` hands to torch without a copy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .errors import DataError

if TYPE_CHECKING:
    import torch


def epoch_batches(
    n: int, batch_size: int, seed: int, epoch: int, drop_last: bool = False
) -> list[np.ndarray]:
    """The shuffled batches of example rows 0..n-1 for one epoch: each row once, in batches of
    ``batch_size`` (the last one smaller unless ``drop_last``)."""
    if batch_size < 1:
        raise DataError(f"batch_size must be >= 1, got {batch_size}")
    order = np.random.default_rng([seed, epoch]).permutation(n)
    end = n - n % batch_size if drop_last else n
    return [order[start : start + batch_size] for start in range(0, end, batch_size)]


def to_torch(*arrays: np.ndarray) -> tuple[torch.Tensor, ...]:
    """NumPy arrays as torch tensors, sharing memory where the array is writable (a read-only
    array is copied, as torch tensors are always writable); torch is imported only here."""
    import torch

    writable = (np.ascontiguousarray(a) if a.flags.writeable else a.copy() for a in arrays)
    return tuple(torch.from_numpy(a) for a in writable)
