"""Visual Sudoku puzzle classification (ViSudo-PC): boards of MNIST digits, valid or not,
generated deterministically from a seed as the ViSudo-PC generator does.

For dimension d (4 or 9) the digits are the classes 0..d-1 (the first d MNIST classes). A
*valid puzzle* is a full board filled cell by cell, row by row, with a random digit that the
row, column and box still allow, restarting on a dead end; each cell is an MNIST image of its
digit, no image used twice within a split. Each valid puzzle is paired with a *corrupted*
copy: a fair coin picks the method, swapping random pairs of cells or replacing cells with
images of another class; edits go on with probability 1/2 each, at most min(10, d^2 / 2) swaps
or min(10, d^2) replacements, and the whole corruption is redrawn until the board is invalid.
A split of ``puzzles`` puzzles holds 2 x ``puzzles`` boards, shuffled; label 1 valid, 0 not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .digits import DigitImages
from .errors import DataError
from .examples import IndexedExamples, TaskSplits, all_rows, child_seeds, holdout

DIMENSIONS = (4, 9)
#: Each valid/corrupted pair per split, as the ViSudo-PC benchmark: 100 puzzles, 200 boards.
PUZZLES = 100
EDIT_CONTINUE = 0.5  # the chance that one more edit follows


@dataclass(frozen=True)
class VisudoSet(IndexedExamples):
    """``index`` (E, d*d): the cells' images, row-major; ``boards`` (E, d, d) int64 their digits
    0..d-1; ``valid`` (E,) int64, 1 valid / 0 corrupted; ``puzzle`` (E,) int64, the puzzle each
    board comes from (a valid board and its corruption share it); ``reused``: how many cells
    got an image already used in the split (0 unless a digit's images ran out)."""

    boards: np.ndarray
    valid: np.ndarray
    puzzle: np.ndarray
    reused: int = 0

    @property
    def dimension(self) -> int:
        return self.boards.shape[1]


def check_dimension(dimension: int) -> None:
    if dimension not in DIMENSIONS:
        raise DataError(f"visual Sudoku boards have dimension 4 or 9 (ViSudo-PC), got {dimension}")


def units(dimension: int) -> list[list[int]]:
    """The cells (row-major numbers) of each row, column and box of a d x d board."""
    check_dimension(dimension)
    b = math.isqrt(dimension)
    rows = [[r * dimension + c for c in range(dimension)] for r in range(dimension)]
    columns = [[r * dimension + c for r in range(dimension)] for c in range(dimension)]
    boxes = [
        [(br + r) * dimension + bc + c for r in range(b) for c in range(b)]
        for br in range(0, dimension, b)
        for bc in range(0, dimension, b)
    ]
    return rows + columns + boxes


def constrained_pairs(dimension: int) -> np.ndarray:
    """(n, 2): the pairs of cells (row-major numbers, a < b) that share a row, column or box."""
    pairs = {(a, b) for unit in units(dimension) for a in unit for b in unit if a < b}
    return np.array(sorted(pairs), dtype=np.int64)


def is_valid(cells: np.ndarray) -> np.ndarray:
    """(...,) bool: whether each board, its cells (..., d*d) row-major digits 0..d-1, has every
    digit once in every row, column and box."""
    cells = np.asarray(cells)
    dimension = math.isqrt(cells.shape[-1])
    valid = np.ones(cells.shape[:-1], dtype=bool)
    for unit in units(dimension):
        valid &= (np.sort(cells[..., unit], axis=-1) == np.arange(dimension)).all(-1)
    return valid


def valid_board(dimension: int, rng: np.random.Generator) -> np.ndarray:
    """A valid board (d, d): cells filled row by row with a random allowed digit, restarting on
    a dead end (the ViSudo-PC generator's method)."""
    b = math.isqrt(dimension)
    while True:
        rows, columns, boxes = ([set() for _ in range(dimension)] for _ in range(3))
        cells = []
        for cell in range(dimension * dimension):
            r, c = divmod(cell, dimension)
            box = (r // b) * b + c // b
            used = rows[r] | columns[c] | boxes[box]
            allowed = [v for v in range(dimension) if v not in used]
            if not allowed:
                break
            digit = allowed[rng.integers(len(allowed))]
            rows[r].add(digit), columns[c].add(digit), boxes[box].add(digit)
            cells.append(digit)
        else:
            return np.asarray(cells, dtype=np.int64).reshape(dimension, dimension)


class _Pool:
    """Images of each digit, each handed out once (no image reused within a split) until that
    digit's images run out; then they are handed out again, in a new order, and counted."""

    def __init__(self, source: DigitImages, rows: np.ndarray, dimension: int, rng) -> None:
        self.rng = rng
        self.images = {d: rows[source.labels[rows] == d] for d in range(dimension)}
        for digit, images in self.images.items():
            if len(images) == 0:
                raise DataError(f"no image of digit {digit} to draw visual Sudoku cells from")
        self.free = {d: list(rng.permutation(images)) for d, images in self.images.items()}
        self.cycled: set[int] = set()  # digits whose images ran out
        self.reused = 0  # images handed out a second time

    def take(self, digit: int) -> int:
        if not self.free[digit]:
            self.free[digit] = list(self.rng.permutation(self.images[digit]))
            self.cycled.add(digit)
        self.reused += digit in self.cycled
        return int(self.free[digit].pop())


def corrupt(
    board: np.ndarray, images: np.ndarray, pool: _Pool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A corrupted copy (digits, images) of a valid board, redrawn until it is invalid."""
    dimension = board.shape[0]
    cells = dimension * dimension
    while True:
        digits, drawn = board.ravel().copy(), images.copy()
        swap = rng.random() < 0.5
        most = min(10, cells // 2) if swap else min(10, cells)
        for _ in range(most):
            if swap:
                a, b = rng.choice(cells, size=2, replace=False)
                digits[[a, b]], drawn[[a, b]] = digits[[b, a]], drawn[[b, a]]
            else:
                cell = rng.integers(cells)
                digit = (digits[cell] + rng.integers(1, dimension)) % dimension
                digits[cell], drawn[cell] = digit, pool.take(int(digit))
            if rng.random() >= EDIT_CONTINUE:
                break
        if not is_valid(digits):
            return digits.reshape(dimension, dimension), drawn


def visudo_dataset(
    source: DigitImages,
    dimension: int,
    seed: int,
    puzzles: int = PUZZLES,
    rows: np.ndarray | None = None,
) -> VisudoSet:
    """``puzzles`` valid boards and their corruptions (2 x ``puzzles`` boards, shuffled), their
    cells drawn without reuse from images ``rows`` of ``source`` (all when None)."""
    check_dimension(dimension)
    if puzzles < 1:
        raise DataError(f"a visual Sudoku split needs at least 1 puzzle, got {puzzles}")
    rng = np.random.default_rng(seed)
    pool = _Pool(source, all_rows(len(source.images), rows), dimension, rng)
    boards, index, valid, puzzle = [], [], [], []
    for p in range(puzzles):
        board = valid_board(dimension, rng)
        images = np.array([pool.take(int(d)) for d in board.ravel()], dtype=np.int64)
        bad_board, bad_images = corrupt(board, images, pool, rng)
        boards += [board, bad_board]
        index += [images, bad_images]
        valid += [1, 0]
        puzzle += [p, p]
    order = rng.permutation(2 * puzzles)
    return VisudoSet(
        source.images,
        np.stack(index)[order],
        np.stack(boards)[order],
        np.asarray(valid, dtype=np.int64)[order],
        np.asarray(puzzle, dtype=np.int64)[order],
        pool.reused,
    )


def visudo_splits(
    train: DigitImages,
    test: DigitImages,
    dimension: int,
    split: int = 0,
    puzzles: int = PUZZLES,
    val_fraction: float | None = None,
) -> TaskSplits:
    """Split ``split`` (a seed: ViSudo-PC has 10, 0..9): train and validation boards from
    disjoint images of ``train`` (``val_fraction`` held out for validation: by default 0.1 for
    4 x 4 and 0.2 for 9 x 9, enough images of every digit for 100 puzzles), test boards from
    ``test``; ``puzzles`` per split. MNIST's test set has 892 fives, fewer than the 900 that
    100 9 x 9 puzzles need, so a few test images are used twice there (``reused``)."""
    if val_fraction is None:
        val_fraction = 0.1 if dimension == 4 else 0.2
    held_seed, train_seed, val_seed, test_seed = child_seeds(split, 4)
    kept, held = holdout(len(train.images), val_fraction, held_seed)
    return TaskSplits(
        visudo_dataset(train, dimension, train_seed, puzzles, kept),
        visudo_dataset(train, dimension, val_seed, puzzles, held),
        visudo_dataset(test, dimension, test_seed, puzzles),
    )
