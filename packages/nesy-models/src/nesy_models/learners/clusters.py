"""Starting the digit network from clusters of the training images, with no labels.

Some tasks do not change when the digits are relabelled: a visual Sudoku board is valid
whatever its digits are called. From an untrained network, whose distributions are nearly
uniform, EM's posterior is then as uniform as its prior, so nothing breaks the symmetry (9x9
boards stay at chance). Fitting the network first to k-means clusters of the training images
gives it a start that is not uniform, which the constraints then correct: the digits come out
named in some order of their own, which a board's validity does not see.

The clusters are k-means (scikit-learn, ``n_init`` restarts) on the images' first
:data:`COMPONENTS` principal components, as many clusters as the task has classes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

#: Principal components the images are clustered on.
COMPONENTS = 50


def clusterer(
    images: np.ndarray, classes: int, seed: int = 0
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """The k-means clusters (``classes`` of them) of ``images`` (M, ...): the cluster (int64,
    0..``classes`` - 1) of each of them, and a function giving that of any images of the same
    shape (the clusters of ``images`` again, for them)."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    flat = images.reshape(len(images), -1)
    pca = PCA(min(COMPONENTS, *flat.shape), random_state=seed).fit(flat)
    kmeans = KMeans(classes, n_init=10, random_state=seed).fit(pca.transform(flat))

    def predict(more: np.ndarray) -> np.ndarray:
        return kmeans.predict(pca.transform(more.reshape(len(more), -1))).astype(np.int64)

    return kmeans.labels_.astype(np.int64), predict


def cluster_ids(images: np.ndarray, classes: int, seed: int = 0) -> np.ndarray:
    """(M,) int64: the k-means cluster (0..``classes`` - 1) of each image (M, H, W)."""
    return clusterer(images, classes, seed)[0]


def fit_to_clusters(
    net: nn.Module,
    images: np.ndarray,
    clusters: np.ndarray,
    epochs: int,
    *,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
) -> float:
    """Train ``net`` (images (B, H, W) -> (features, logits)) for ``epochs`` to predict each
    image's cluster, by cross-entropy; the share of ``images`` whose predicted class is then
    their cluster."""
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr)
    x, y = torch.from_numpy(np.asarray(images, dtype=np.float32)), torch.from_numpy(clusters)
    net.train()
    for _ in range(epochs):
        for rows in torch.randperm(len(x), generator=generator).split(batch_size):
            loss = nn.functional.cross_entropy(net(x[rows])[1], y[rows])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        predicted = torch.cat([net(part)[1].argmax(-1) for part in x.split(1024)])
    return float((predicted == y).float().mean())
