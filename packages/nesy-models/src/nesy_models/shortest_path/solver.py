"""Shortest paths on vertex-weighted grids, many maps at once.

The path runs from the top-left to the bottom-right cell over the 8-neighbourhood; its cost is
the sum of the costs of the cells it visits, the start cell's included (the Warcraft
benchmark's convention). :func:`shortest_paths` solves a whole batch of maps (thousands of
draws of an ABC E-step) with tensor operations: Bellman-Ford relaxation, each sweep a 3 x 3
minimum (O(N^2) per sweep, at most N^2 sweeps, in practice about the path's length), then a
walk back from the goal along each cell's cheapest neighbour. Ties between equally cheap paths
are broken the same way every time (the first cheapest neighbour in a fixed order), so a map
always gets the same path. :func:`reference_costs` is Dijkstra from ``scipy.sparse.csgraph``,
one map at a time, which the tests hold it to.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from torch.nn import functional as F

#: The 8 neighbours' offsets (row, column), in the order that breaks ties.
NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def shortest_paths(costs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(path masks (..., N, N) bool, path costs (...,)) of the maps of positive vertex
    ``costs`` (..., N, N)."""
    shape, size = costs.shape[:-2], costs.shape[-1]
    dist = distances(costs.reshape(-1, size, size))
    return _walk_back(dist).view(*shape, size, size), dist[:, -1, -1].view(shape)


def distances(costs: torch.Tensor) -> torch.Tensor:
    """(B, N, N): the cost of the shortest path from the start to each cell of the maps
    ``costs`` (B, N, N) (the cell's own cost included)."""
    dist = torch.full_like(costs, float("inf"))
    dist[:, 0, 0] = costs[:, 0, 0]
    for _ in range(costs.shape[-1] ** 2):
        relaxed = torch.minimum(dist, _nearest(dist) + costs)
        if torch.equal(relaxed, dist):
            break
        dist = relaxed
    return dist


def _nearest(dist: torch.Tensor) -> torch.Tensor:
    """(B, N, N): the least of each cell's 3 x 3 block of ``dist`` (B, N, N), as a min over
    columns then rows (4 element-wise minima, cheaper than pooling)."""
    p = F.pad(dist, (1, 1, 1, 1), value=float("inf"))
    p = torch.minimum(torch.minimum(p[:, :, :-2], p[:, :, 1:-1]), p[:, :, 2:])
    return torch.minimum(torch.minimum(p[:, :-2], p[:, 1:-1]), p[:, 2:])


def _walk_back(dist: torch.Tensor) -> torch.Tensor:
    """(B, N, N) bool: the cells of each map's path, walked back from the goal by always
    stepping to the neighbour nearest the start (the first such in :data:`NEIGHBOURS`)."""
    batch, size = dist.shape[0], dist.shape[-1]
    padded = F.pad(dist, (1, 1, 1, 1), value=float("inf"))
    best = torch.full_like(dist, float("inf"))
    step = torch.zeros(dist.shape, dtype=torch.long, device=dist.device)
    for k, (dr, dc) in enumerate(NEIGHBOURS):  # the first nearest neighbour wins ties
        here = padded[:, 1 + dr : 1 + dr + size, 1 + dc : 1 + dc + size]
        closer = here < best
        best = torch.where(closer, here, best)
        step = torch.where(closer, k, step)
    step = step.flatten(1)  # (B, N*N): the neighbour each cell came from
    offsets = torch.tensor([dr * size + dc for dr, dc in NEIGHBOURS], device=dist.device)
    path = torch.zeros(batch, size * size, dtype=torch.bool, device=dist.device)
    rows = torch.arange(batch, device=dist.device)
    at = torch.full((batch,), size * size - 1, device=dist.device)
    path[rows, at] = True
    for _ in range(size * size):
        moving = at != 0
        if not moving.any():
            break
        at = torch.where(moving, at + offsets[step[rows, at]], at)
        path[rows, at] = True
    return path.view(batch, size, size)


def path_costs(paths: torch.Tensor, costs: torch.Tensor) -> torch.Tensor:
    """(...,): the cost of each path (..., N, N) under ``costs`` (..., N, N)."""
    return (paths.to(costs.dtype) * costs).sum((-2, -1))


def grid_graph(size: int) -> csr_matrix:
    """The ``size`` x ``size`` grid's 8-neighbourhood as a sparse matrix whose entry (u, v) is
    1; set ``.data = costs.ravel()[graph.indices]`` to weigh each edge u -> v by v's cost."""
    index = np.arange(size * size).reshape(size, size)
    rows, cols = [], []
    for dr, dc in NEIGHBOURS:
        rows.append(index[max(0, -dr) : size - max(0, dr), max(0, -dc) : size - max(0, dc)].ravel())
        cols.append(index[max(0, dr) : size - max(0, -dr), max(0, dc) : size - max(0, -dc)].ravel())
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    return csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(size * size,) * 2)


def reference_costs(costs: np.ndarray) -> float:
    """The shortest path's cost on one map ``costs`` (N, N), by scipy's Dijkstra on the grid
    graph whose edge u -> v weighs v's cost (plus the start cell's)."""
    graph = grid_graph(costs.shape[0])
    graph.data = costs.ravel()[graph.indices].astype(np.float64)
    return float(dijkstra(graph, indices=0)[-1] + costs[0, 0])
