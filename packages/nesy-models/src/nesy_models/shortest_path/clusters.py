"""Starting the terrain network from clusters of the map tiles, named by the path labels.

EM from an untrained network settles on two terrain classes (cheap and dear) and no draw of its
E-step ever shows that the classes it merged differ. A start without labels avoids that: the
cells' 8 x 8 tiles are clustered by k-means (:func:`~nesy_models.learners.clusters.clusterer`,
as many clusters as terrain classes), each of the 5! namings of the clusters by the classes is
scored by the share of maps whose label path is a shortest path under the costs it gives (the
label's regret 0, as ABC reads it), and the network is fitted to the best-named clusters. On
the generated maps the clusters are the terrain classes exactly (their textures differ in
colour), so this start is as good as the classes themselves: a statement about how far the
generator's textures are apart as much as about the learner.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import nn

from ..learners.clusters import clusterer
from .data import Maps
from .task import regret
from .terrain import COSTS, TILE

#: Maps whose tiles are clustered and fitted (the first of the training set), and those the
#: namings are scored on.
CLUSTERED, NAMED = 500, 200


def tiles(images: torch.Tensor) -> np.ndarray:
    """(B * N * N, 3 * 8 * 8): the cells' tiles of maps ``images`` (B, 3, 8N, 8N), row by row."""
    batch, size = len(images), images.shape[-1] // TILE
    split = images.numpy().reshape(batch, 3, size, TILE, size, TILE)
    return split.transpose(0, 2, 4, 1, 3, 5).reshape(batch * size * size, -1)


def best_naming(clusters: np.ndarray, paths: np.ndarray) -> tuple[np.ndarray, float]:
    """(the terrain class of each cluster, the share of maps it explains): the naming of the
    clusters (B, N*N) under which most label ``paths`` (B, N*N) are shortest paths."""
    namings = np.array(list(itertools.permutations(range(len(COSTS)))))
    draws = namings[:, clusters].transpose(1, 0, 2)  # (B, namings, N*N)
    explained = (regret(draws, paths) == 0).mean(0)
    best = int(explained.argmax())
    return namings[best], float(explained[best])


def start_from_clusters(net: nn.Module, train: Maps, epochs: int, seed: int = 0) -> float:
    """Fit ``net`` for ``epochs`` over ``train`` to the best-named clusters of its cells' tiles
    (clustered on the first :data:`CLUSTERED` maps, named on the first :data:`NAMED`); the
    share of those maps the naming explains."""
    rows = np.arange(min(len(train), CLUSTERED))
    cells = tiles(train.images(rows))
    clusters, cluster = clusterer(cells, len(COSTS), seed)
    named = rows[:NAMED]
    clusters = clusters.reshape(len(rows), -1)[named]
    naming, explained = best_naming(clusters, train.paths[named].reshape(len(named), -1))
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.AdamW(net.parameters(), lr=3e-3)
    net.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(train), generator=generator).split(32):
            images = train.images(np.sort(batch.numpy()))
            targets = torch.from_numpy(naming[cluster(tiles(images))])
            loss = nn.functional.cross_entropy(net(images).flatten(0, 1), targets)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    return explained
