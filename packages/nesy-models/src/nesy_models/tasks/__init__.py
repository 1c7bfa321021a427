"""Tasks: a program, the data it reads and how its answers are read (:mod:`.task`), and the
built-in ones: MNIST addition (:mod:`.addition`) and 4x4 visual Sudoku (:mod:`.sudoku`)."""

from .addition import ENCODINGS, GROUNDED_DIGITS, mnist_addition
from .factor_graph import Factor, FactorGraph
from .sudoku import sudoku
from .task import COMPLEMENT, Group, JointAnswer, Readout, Task

__all__ = [
    "COMPLEMENT",
    "ENCODINGS",
    "GROUNDED_DIGITS",
    "Factor",
    "FactorGraph",
    "Group",
    "JointAnswer",
    "Readout",
    "Task",
    "mnist_addition",
    "sudoku",
]
