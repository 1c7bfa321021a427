"""Tasks: a program, the data it reads and how its answers are read (:mod:`.task`), and the
built-in ones: MNIST addition (:mod:`.addition`), 4x4 visual Sudoku (:mod:`.sudoku`) and
visual Sudoku puzzle classification, 4x4 and 9x9 (:mod:`.visudo`); the
filtered ranking of knowledge-graph completion (:mod:`.kg_ranking`)."""

from .addition import ENCODINGS, GROUNDED_DIGITS, mnist_addition
from .factor_graph import Factor, FactorGraph
from .kg_ranking import evaluate_ranking, filter_index
from .sudoku import sudoku
from .task import COMPLEMENT, Group, JointAnswer, Readout, Task
from .visudo import visudo

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
    "evaluate_ranking",
    "filter_index",
    "mnist_addition",
    "sudoku",
    "visudo",
]
