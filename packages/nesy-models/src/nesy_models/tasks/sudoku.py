"""4x4 visual Sudoku validity, with its checker as a plain function."""

from __future__ import annotations

import numpy as np

from nesy_compile.examples import sudoku4

from ..data.visudo import units
from .task import Task

#: The cells (row-major indices 0..15) of each row, column and 2x2 box of a 4x4 Sudoku.
UNITS = units(4)


def sudoku() -> Task:
    """4x4 visual Sudoku validity (data: :class:`nesy_models.data.SudokuSet`); images c00..c33
    row by row, digits 1..4."""
    return Task(
        "sudoku",
        sudoku4(),
        tuple(f"c{r}{c}" for r in range(4) for c in range(4)),
        (1, 2, 3, 4),
        group_of=lambda q: ("valid", 1) if q[0] == "valid" else None,
        targets_of=lambda data: data.valid.reshape(-1, 1),
        symbolic=valid_grid,
    )


def valid_grid(cells: np.ndarray) -> np.ndarray:
    """(..., 1): 1 where the cells (..., 16) (row by row) differ in every row, column and box."""
    cells = np.asarray(cells)
    valid = np.ones(cells.shape[:-1], dtype=bool)
    for unit in UNITS:
        values = np.sort(cells[..., list(unit)], axis=-1)
        valid &= (np.diff(values, axis=-1) != 0).all(-1)
    return valid[..., None].astype(np.int64)
