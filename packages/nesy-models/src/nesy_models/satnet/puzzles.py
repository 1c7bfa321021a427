"""The SATNet paper's puzzle tasks as tensors: parity and small Sudoku.

Boards are one-hot encoded the SATNet way: cell c holding digit d sets variable c * size + d,
so a 4x4 Sudoku has 64 binary variables. Masks say which variables are given; a cell is given
or hidden with all its digit variables, so the mask never leaks a hidden cell's value.
"""

from __future__ import annotations

import itertools

import torch


def parity_examples() -> tuple[torch.Tensor, torch.Tensor]:
    """All 4 inputs (x1, x2, y) with y = x1 XOR x2, and the mask giving x1 and x2 (4, 3)."""
    bits = torch.tensor(list(itertools.product([0.0, 1.0], repeat=2)))
    z = torch.cat([bits, (bits[:, :1] != bits[:, 1:]).float()], dim=1)
    return z, torch.tensor([[True, True, False]]).expand(4, 3)


def sudoku_boards(box: int = 2) -> torch.Tensor:
    """Every solved Sudoku with ``box`` x ``box`` boxes (box 2: the 288 4x4 boards), (P, s, s)."""
    size = box * box
    rows = list(itertools.permutations(range(size)))
    boards: list[list[tuple[int, ...]]] = [[]]
    for _ in range(size):
        boards = [b + [r] for b in boards for r in rows if _fits(b, r, box)]
    return torch.tensor(boards)


def _fits(board: list[tuple[int, ...]], row: tuple[int, ...], box: int) -> bool:
    """Whether ``row`` can follow ``board`` without a repeat in a column or a box."""
    band = len(board) // box * box
    for c, digit in enumerate(row):
        if any(r[c] == digit for r in board):
            return False
        box_cols = range(c // box * box, c // box * box + box)
        if any(board[r][cc] == digit for r in range(band, len(board)) for cc in box_cols):
            return False
    return True


def sudoku_puzzles(
    boards: torch.Tensor, hidden: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """One-hot boards (P, s^3) and masks with ``hidden`` random cells per board not given."""
    count, size = boards.shape[0], boards.shape[1]
    one_hot = torch.nn.functional.one_hot(boards.flatten(1), size).flatten(1).float()
    order = torch.rand(count, size * size, generator=generator).argsort(1)
    given = torch.ones(count, size * size, dtype=torch.bool)
    given.scatter_(1, order[:, :hidden], False)
    return one_hot, given.repeat_interleave(size, 1)
