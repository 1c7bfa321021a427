"""4x4 visual Sudoku validity, generated deterministically from a seed.

Grids hold the digits 1..4 (as ``nesy_compile.examples.sudoku4``'s ``nn(..., [1,2,3,4])``), each
cell an MNIST image of that digit. Half the examples are valid grids, drawn uniformly from all 288
valid 4x4 Sudokus; the other half are *one-cell corruptions*: a valid grid with one cell changed
to another digit, so every violated constraint involves that one cell.

Why not "exactly one violated pair": no 4x4 grid breaks exactly one of the 56 ``different``
constraints, nor has exactly one row, column or box with a repeat. If only row r repeated a
digit, all four columns would be permutations of 1..4, so each digit would occur four times in
the grid and three times in the other rows, hence once in row r: a contradiction. The same
holds for a column, and for a box (with the two rows through it). The tests check this by
exhaustive search. A one-cell corruption is the smallest change that makes a valid grid invalid,
and the literature's (ViSudo-PC's "replace" corruption).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import permutations

import numpy as np

from .digits import DigitImages
from .errors import DataError
from .examples import IndexedExamples, TaskSplits, all_rows, child_seeds, holdout
from .visudo import constrained_pairs

SIZE = 4
DIGITS = tuple(range(1, SIZE + 1))
# the 56 pairs of cells (row-major cell numbers) that must differ: they share a row, column or box
CONSTRAINT_PAIRS: np.ndarray = constrained_pairs(SIZE)


@dataclass(frozen=True)
class SudokuSet(IndexedExamples):
    """``index`` (E, 16): the cells' images, row-major; ``grids`` (E, 4, 4) int64, their digits
    1..4; ``valid`` (E,) int64, 1 valid / 0 invalid; ``corrupted`` (E,) int64, the changed cell
    (row-major) of an invalid grid, -1 for a valid one."""

    grids: np.ndarray
    valid: np.ndarray
    corrupted: np.ndarray


def violations(grids: np.ndarray) -> np.ndarray:
    """(E, 56) bool: which of CONSTRAINT_PAIRS each (E, 4, 4) grid violates (equal digits).
    Partial grids (E, k, 4), their first k rows filled, get a column per pair among those rows."""
    grids = np.asarray(grids)
    filled = grids.shape[1] * SIZE
    pairs = CONSTRAINT_PAIRS[(CONSTRAINT_PAIRS < filled).all(axis=1)]
    flat = grids.reshape(len(grids), filled)
    return flat[:, pairs[:, 0]] == flat[:, pairs[:, 1]]


@cache
def valid_grids() -> np.ndarray:
    """All 288 valid 4x4 Sudokus, (288, 4, 4) int64, in lexicographic order (read-only)."""
    rows = np.array(list(permutations(DIGITS)), dtype=np.int64)
    grids = rows[:, None, :]
    for _ in range(SIZE - 1):
        grids = np.concatenate(
            [np.repeat(grids, len(rows), 0), np.tile(rows, (len(grids), 1))[:, None, :]], axis=1
        )
        grids = grids[~violations(grids).any(axis=1)]
    grids.flags.writeable = False
    return grids


def corrupt(grids: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each valid grid with one random cell changed to a random other digit: (grids, cells)."""
    count = len(grids)
    cells = rng.integers(SIZE * SIZE, size=count)
    flat = grids.reshape(count, SIZE * SIZE).copy()
    old = flat[np.arange(count), cells]
    shift = rng.integers(1, SIZE, size=count)  # a nonzero shift mod 4: always another digit
    flat[np.arange(count), cells] = (old - 1 + shift) % SIZE + 1
    return flat.reshape(count, SIZE, SIZE), cells


def draw_images(
    source: DigitImages, rows: np.ndarray, grids: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(E, 16) image rows: each cell a random image (among ``rows``) of its digit."""
    flat = grids.reshape(len(grids), SIZE * SIZE)
    index = np.empty_like(flat)
    for digit in DIGITS:
        pool = rows[source.labels[rows] == digit]
        if len(pool) == 0:
            raise DataError(f"no image of digit {digit} to draw Sudoku cells from")
        where = flat == digit
        index[where] = pool[rng.integers(len(pool), size=int(where.sum()))]
    return index


def sudoku_dataset(
    source: DigitImages, n_examples: int, seed: int, rows: np.ndarray | None = None
) -> SudokuSet:
    """``n_examples`` shuffled Sudokus, half valid (the odd one out invalid), their cells drawn
    from images ``rows`` of ``source`` (all when None)."""
    if n_examples < 1:
        raise DataError(f"a Sudoku data set needs n_examples >= 1, got {n_examples}")
    rng = np.random.default_rng(seed)
    rows = all_rows(len(source.images), rows)
    n_valid = n_examples // 2
    pool = valid_grids()
    valid = pool[rng.integers(len(pool), size=n_valid)]
    invalid, cells = corrupt(pool[rng.integers(len(pool), size=n_examples - n_valid)], rng)
    order = rng.permutation(n_examples)
    grids = np.concatenate([valid, invalid])[order]
    labels = np.concatenate([np.ones(n_valid), np.zeros(n_examples - n_valid)]).astype(np.int64)
    corrupted = np.concatenate([np.full(n_valid, -1), cells]).astype(np.int64)
    index = draw_images(source, rows, grids, rng)
    return SudokuSet(source.images, index, grids, labels[order], corrupted[order])


def sudoku_splits(
    train: DigitImages,
    test: DigitImages,
    n_train: int,
    n_val: int,
    n_test: int,
    seed: int = 0,
    val_fraction: float = 0.1,
) -> TaskSplits:
    """Train and validation Sudokus from disjoint images of ``train`` (``val_fraction`` of the
    images held out for validation), test Sudokus from ``test``; all a function of ``seed``."""
    split_seed, train_seed, val_seed, test_seed = child_seeds(seed, 4)
    kept, held = holdout(len(train.images), val_fraction, split_seed)
    return TaskSplits(
        sudoku_dataset(train, n_train, train_seed, kept),
        sudoku_dataset(train, n_val, val_seed, held),
        sudoku_dataset(test, n_test, test_seed),
    )
