"""Starting the digit network from k-means clusters of the training images: the clusters are
the classes up to their names on separable images, the network learns to predict them, and on
9x9 visual Sudoku (whose validity is blind to the digits' names) EM learns the digits from
such a start where from an untrained network it learns nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from nesy_models.checks import OptionError
from nesy_models.data import epoch_batches, load_embedded_digits
from nesy_models.data.visudo import visudo_splits
from nesy_models.experiment import RunConfig
from nesy_models.learners import Split, TrainConfig, make_learner
from nesy_models.learners.clusters import cluster_ids, fit_to_clusters
from nesy_models.learners.training import start_from_clusters
from nesy_models.models import TaskModel
from nesy_models.models.networks import LeNet
from nesy_models.tasks import visudo


def relabelled_accuracy(predicted: np.ndarray, truth: np.ndarray, classes: int) -> float:
    """The share of ``predicted`` right under the best renaming of its classes."""
    counts = np.zeros((classes, classes))
    np.add.at(counts, (predicted, truth), 1)
    rows, cols = linear_sum_assignment(-counts)
    return counts[rows, cols].sum() / len(truth)


def blobs(seed: int = 0, per_class: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Images of 3 classes: a bright square in a different corner each, plus noise."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(3), per_class)
    images = rng.normal(0.1, 0.05, (len(truth), 28, 28)).astype(np.float32)
    for k, (r, c) in enumerate(((2, 2), (2, 16), (16, 9))):
        images[truth == k, r : r + 10, c : c + 10] += 0.8
    return images, truth


def test_the_clusters_of_separable_images_are_their_classes_up_to_names():
    images, truth = blobs()
    clusters = cluster_ids(images, 3, seed=0)
    assert set(clusters.tolist()) == {0, 1, 2}
    assert relabelled_accuracy(clusters, truth, 3) == 1.0
    assert np.array_equal(cluster_ids(images, 3, seed=0), clusters)  # seeded


def test_the_network_learns_to_predict_the_clusters():
    torch.manual_seed(0)
    images, truth = blobs(per_class=30)
    net = LeNet(3)
    untrained = net(torch.from_numpy(images))[1].argmax(-1).numpy()
    share = fit_to_clusters(net, images, truth, epochs=5, batch_size=16, seed=0)
    predicted = net(torch.from_numpy(images))[1].argmax(-1).numpy()
    assert share == pytest.approx(float((predicted == truth).mean()))
    assert share == 1.0 and (untrained == truth).mean() < 0.9


def test_em_learns_9x9_sudoku_digits_from_a_cluster_start_and_not_without(monkeypatch):
    monkeypatch.delenv("NESY_DATA", raising=False)
    torch.set_num_threads(1)
    task = visudo(9)
    data = visudo_splits(
        load_embedded_digits("train"), load_embedded_digits("test"), 9, split=0, puzzles=8
    )
    used = np.unique(data.train.index)
    truth = np.full(len(data.train.images), -1)
    truth[data.train.index.ravel()] = data.train.boards.reshape(len(data.train), -1).ravel()
    images, truth = torch.from_numpy(data.train.images[used]), truth[used]

    def digits_right(model) -> float:  # under the best renaming of the network's classes
        with torch.no_grad():
            return relabelled_accuracy(model.net(images)[1].argmax(-1).numpy(), truth, 9)

    accuracy = {}
    for start in (0, 3):
        torch.manual_seed(0)
        model = TaskModel(task)
        train = Split.of(task, model.groups, data.train)
        config = TrainConfig(batch_size=4, learner="em", engine="bp", cluster_init=start)
        if start:
            start_from_clusters(model, train, config)
        before = digits_right(model)
        learner = make_learner(config, model)
        optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr)
        for epoch in range(6):  # EM's epochs, the last network kept
            for step, rows in enumerate(epoch_batches(len(train), 4, 0, epoch)):
                learner.step(model, model, *train.batch(rows), optimiser, step)
        accuracy[start] = (before, digits_right(model))
    (_, untrained), (clustered, learned) = accuracy[0], accuracy[3]
    assert untrained < 0.4  # chance: about 0.2 under the best renaming
    assert learned > 0.7 and learned > clustered + 0.1  # the constraints correct the clusters


def test_a_negative_count_and_the_jax_backend_are_refused():
    with pytest.raises(OptionError, match="cluster_init"):
        TrainConfig(cluster_init=-1)
    with pytest.raises(OptionError, match="cluster_init.*--backend torch"):
        RunConfig(cluster_init=2, backend="jax")
