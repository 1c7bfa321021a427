"""The shortest-path task as the inference engines read it: N x N cells, each a symbol of five
terrain classes; the answer, the optimal path's N x N 0/1 mask, from the symbols by the solver.

There is no program (a path of a grid is no circuit one would compile: the EM-NeSy paper's
exact method times out); the sampling engines (abc, abc-nearest) need only the plain function
and a distance. The distance of a draw of cell classes from a label path is the label's
*regret* under the draw's costs: how much dearer the label path is than the draw's shortest
path. It is 0 exactly when the label is a shortest path of the draw (so a draw whose solver
breaks a tie the other way is not refused: the label says which path is optimal, not how
ties are broken), and it grows with how far the draw is from making the label optimal. ``abc``
accepts the draws of regret 0; ``abc-nearest`` those of least regret, an adaptive tolerance:
an untrained network almost never draws a map on which the label is optimal, but its least-regret
draws are those with cheap cells along the label and dear ones beside it. (A Hamming distance
between the draw's path and the label, measured instead, stalled at a validation cost match of
0.58 on 12 x 12 maps.)
"""

from __future__ import annotations

import numpy as np
import torch

from ..tasks import Task
from .data import costs_of
from .solver import distances, shortest_paths
from .terrain import COSTS


def paths_of(classes: np.ndarray) -> np.ndarray:
    """(..., N*N) int64 path masks of the class maps ``classes`` (..., N*N), cells row by row."""
    costs = costs_of(classes)
    size = round(costs.shape[-1] ** 0.5)
    return shortest_paths(costs.view(*costs.shape[:-1], size, size))[0].flatten(-2).long().numpy()


def regret(draws: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(B, K) float64: how much dearer each example's label path ``targets`` (B, N*N) is than
    the shortest path, under the costs of each of its draws ``draws`` (B, K, N*N); 0 where the
    label is a shortest path. (In tenths, exact in float32: the costs have one decimal.)"""
    tenths = costs_of(draws).mul(10).round()  # (B, K, N*N)
    size = round(tenths.shape[-1] ** 0.5)
    label = torch.as_tensor(np.asarray(targets)).to(tenths.dtype)[:, None]
    shortest = distances(tenths.reshape(-1, size, size))[:, -1, -1].view(tenths.shape[:-1])
    return ((tenths * label).sum(-1) - shortest).double().numpy() / 10


def shortest_path_task(size: int) -> Task:
    """The ``size`` x ``size`` shortest-path task for the engines (targets: path masks)."""
    return Task(
        f"shortest-path-{size}",
        None,
        tuple(f"c{i // size}_{i % size}" for i in range(size * size)),
        tuple(range(len(COSTS))),
        group_of=lambda query: None,
        targets_of=lambda data: data.paths.reshape(len(data), -1),
        symbolic=paths_of,
        distance=regret,
        answers=tuple((f"c{i // size}_{i % size}", (0, 1)) for i in range(size * size)),
    )
