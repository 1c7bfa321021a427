"""Visual Sudoku puzzle classification (ViSudo-PC, the EM-NeSy paper's table 2): is a d x d
board of digit images (d = 4 or 9, digits 0..d-1) a valid Sudoku?

The same answer is read four ways, one per kind of inference engine:

- a ProbLog program (``valid :- all pairs of a row, column or box differ``), compiled for the
  exact engine and backpropagation. 4 x 4 compiles in 0.2 s (a circuit of 609 nodes); 9 x 9
  did not finish in 15 minutes (its 810 constraints over 81 nine-way choices), so the 9 x 9
  task has no program, as the EM-NeSy paper's exact methods time out on it;
- a plain checker (``symbolic``), for rejection sampling, with a distance for ABC's tolerance:
  the number of violated pairs for a board observed valid, 0 or 1 for one observed invalid;
- a factor graph of pairwise not-equal factors, for (loopy) belief propagation: a board
  observed valid has every pair different; one observed invalid constrains nothing pairwise
  (its "some pair is equal" is not a product of pairwise factors), so BP gives its prior.
"""

from __future__ import annotations

import numpy as np

from ..data.visudo import check_dimension, constrained_pairs, is_valid
from .factor_graph import Factor, FactorGraph
from .task import Task

#: The answer's one group: valid (1) or not (0).
ANSWERS = (("valid", (0, 1)),)


def visudo_program(dimension: int) -> str:
    """The ProbLog program of d x d validity: a neural ``digit`` of each cell image
    ``c<row>_<col>``, and ``valid`` when every constrained pair differs."""
    pairs = constrained_pairs(dimension)
    cell = [f"tensor(c{i // dimension}_{i % dimension})" for i in range(dimension * dimension)]
    body = ", ".join(f"different({cell[a]}, {cell[b]})" for a, b in pairs)
    digits = ",".join(str(d) for d in range(dimension))
    return (
        f"nn(mnist_net, [X], Y, [{digits}]) :: digit(X, Y).\n"
        "different(A, B) :- digit(A, DA), digit(B, DB), DA \\= DB.\n"
        f"valid :- {body}.\n"
        "query(valid).\n"
    )


def validity(cells: np.ndarray) -> np.ndarray:
    """(..., 1) int64: 1 where the board of ``cells`` (..., d*d) is valid."""
    return is_valid(cells)[..., None].astype(np.int64)


def violations(cells: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(...,) int64: how many of the constrained ``pairs`` hold equal digits in ``cells``."""
    cells = np.asarray(cells)
    return (cells[..., pairs[:, 0]] == cells[..., pairs[:, 1]]).sum(-1)


def pairwise_graph(dimension: int) -> FactorGraph:
    """One variable per cell (d values) and, per constrained pair, a factor that reads the
    answer: ``table[a, b, 1] = (a != b)``, ``table[a, b, 0] = 1``."""
    table = np.ones((dimension, dimension, 2))
    table[..., 1] = 1.0 - np.eye(dimension)
    factors = tuple(
        Factor((int(a), int(b)), table, group=0) for a, b in constrained_pairs(dimension)
    )
    return FactorGraph((dimension,) * dimension**2, factors, dimension**2)


def visudo(dimension: int) -> Task:
    """The d x d ViSudo-PC task (data: :func:`nesy_models.data.visudo.visudo_splits`); images
    ``c<row>_<col>`` row by row, digits 0..d-1; only 4 x 4 has a program."""
    check_dimension(dimension)
    pairs = constrained_pairs(dimension)

    def distance(draws: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """(B, K): how far each draw (B, K, P) is from its example's answer (B, 1)."""
        wrong = violations(draws, pairs)
        return np.where(targets[:, None, 0] == 1, wrong, (wrong == 0).astype(np.int64))

    return Task(
        f"visudo-{dimension}",
        visudo_program(dimension) if dimension == 4 else None,
        tuple(f"c{i // dimension}_{i % dimension}" for i in range(dimension * dimension)),
        tuple(range(dimension)),
        group_of=lambda q: ("valid", 1) if q[0] == "valid" else None,
        targets_of=lambda data: data.valid.reshape(-1, 1),
        symbolic=validity,
        distance=distance,
        factor_graph=pairwise_graph(dimension),
        answers=ANSWERS,
    )
