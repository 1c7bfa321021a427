"""Data: MNIST (IDX files or the embedded 8x8 digits) and the task datasets built from it;
knowledge graphs (triple files, or the embedded generated family tree).

Plain NumPy throughout (torch only inside ``to_torch``). A task dataset holds a pool of digit
images and, per example, the rows of its images; everything random is a function of a seed.
"""

from .addition import AdditionSet, add_digits, addition_dataset, addition_splits
from .augment import random_shifts, shift_images
from .batches import epoch_batches, to_torch
from .digits import DigitImages
from .embedded import load_embedded_digits
from .errors import DataError
from .examples import IndexedExamples, TaskSplits, holdout
from .idx import read_idx
from .kg import KnowledgeGraph, load_kg
from .mnist import load_mnist
from .sudoku import (
    CONSTRAINT_PAIRS,
    SudokuSet,
    sudoku_dataset,
    sudoku_splits,
    valid_grids,
    violations,
)

__all__ = [
    "CONSTRAINT_PAIRS",
    "AdditionSet",
    "DataError",
    "DigitImages",
    "IndexedExamples",
    "KnowledgeGraph",
    "SudokuSet",
    "TaskSplits",
    "add_digits",
    "addition_dataset",
    "addition_splits",
    "epoch_batches",
    "holdout",
    "load_embedded_digits",
    "load_kg",
    "load_mnist",
    "random_shifts",
    "read_idx",
    "shift_images",
    "sudoku_dataset",
    "sudoku_splits",
    "to_torch",
    "valid_grids",
    "violations",
]
