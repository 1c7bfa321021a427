"""Shortest paths on generated terrain maps: the generator's invariants (coherent regions,
labels optimal under the true costs, seeds reproducible), the batched solver against scipy's
Dijkstra, ABC's posterior, learning from paths alone well above the uniform-cost baseline, and
bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nesy_ir.cli import main
from nesy_ir.errors import NesyError
from nesy_models.checks import OptionError
from nesy_models.data.errors import DataError
from nesy_models.engines import get_engine, supporting
from nesy_models.shortest_path.data import cached_splits, costs_of, make_splits
from nesy_models.shortest_path.solver import NEIGHBOURS, path_costs, reference_costs, shortest_paths
from nesy_models.shortest_path.task import paths_of, regret, shortest_path_task
from nesy_models.shortest_path.terrain import COSTS, TILE, class_maps, render
from nesy_models.shortest_path.train import (
    ShortestPathConfig,
    train_shortest_path,
    uniform_cost_match,
)


def is_path(mask: np.ndarray) -> bool:
    """Whether the cells of ``mask`` (N, N) form one 8-connected chain from the top-left to the
    bottom-right cell, each cell with at most two chain neighbours (no detours)."""
    size = mask.shape[0]
    if not (mask[0, 0] and mask[-1, -1]):
        return False
    cells = {tuple(c) for c in np.argwhere(mask)}
    seen, at, previous = {(0, 0)}, (0, 0), None
    while at != (size - 1, size - 1):
        nxt = [(at[0] + dr, at[1] + dc) for dr, dc in NEIGHBOURS]
        nxt = [c for c in nxt if c in cells and c not in seen]
        if len(nxt) != 1 and previous is not None:
            return False
        if not nxt:
            return False
        previous, at = at, nxt[0]
        seen.add(at)
    return seen == cells


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 7), st.data())
def test_solver_finds_the_reference_cost_and_a_path_of_that_cost(size, data):
    costs = np.array(
        data.draw(
            st.lists(
                st.sampled_from(COSTS + (0.1, 3.0)), min_size=size * size, max_size=size * size
            )
        ),
        dtype=np.float32,
    ).reshape(size, size)
    paths, found = shortest_paths(torch.from_numpy(costs)[None])
    assert float(found[0]) == pytest.approx(reference_costs(costs.astype(np.float64)), abs=1e-4)
    assert float(path_costs(paths, torch.from_numpy(costs)[None])[0]) == pytest.approx(
        float(found[0]), abs=1e-4
    )
    assert is_path(paths[0].numpy())


def test_generated_maps_are_coherent_labelled_optimally_and_reproducible():
    train, val, test = make_splits(12, seed=4, counts=(40, 10, 10))
    again = make_splits(12, seed=4, counts=(40, 10, 10))
    other = make_splits(12, seed=5, counts=(40, 10, 10))
    assert np.array_equal(train.classes, again[0].classes)
    assert np.array_equal(test.paths, again[2].paths)
    assert not np.array_equal(train.classes, other[0].classes)
    assert not np.array_equal(train.classes[:10], val.classes)  # the splits differ
    # regions: neighbours share a class far more often than independent cells would
    same = (train.classes[:, :, 1:] == train.classes[:, :, :-1]).mean()
    shares = np.bincount(train.classes.ravel(), minlength=5) / train.classes.size
    assert same > 0.5 > 2 * (shares**2).sum()
    assert set(np.unique(train.classes)) == set(range(5))
    for maps in (train, test):
        costs = maps.costs().numpy().astype(np.float64)
        for mask, cost in zip(maps.paths, costs, strict=True):
            assert is_path(mask)
            assert (mask * cost).sum() == pytest.approx(reference_costs(cost), abs=1e-4)


def test_the_uniform_cost_baseline_is_the_share_of_maps_whose_diagonal_is_optimal():
    _, _, test = make_splits(6, seed=1, counts=(1, 1, 50))
    diagonal = np.eye(6, dtype=bool)
    costs = test.costs().numpy()
    optimal = (test.paths * costs).sum((1, 2))
    expected = np.mean((diagonal * costs).sum((1, 2)) <= optimal + 1e-4)
    assert uniform_cost_match(test) == pytest.approx(expected)


def test_rendering_is_per_map_deterministic_and_shows_the_class():
    classes = class_maps(3, 5, seed=0)
    images = render(classes, np.array([7, 8, 9]))
    assert images.shape == (3, 3, 5 * TILE, 5 * TILE) and images.dtype == np.float32
    assert np.array_equal(images[1:2], render(classes[1:2], np.array([8])))
    assert not np.array_equal(images[0], render(classes[:1], np.array([70]))[0])
    # each class's tiles have a mean colour closer to their own class's than to any other's
    tiles = images.reshape(3, 3, 5, TILE, 5, TILE).mean((3, 5)).transpose(0, 2, 3, 1)
    means = np.stack([tiles[classes == k].mean(0) for k in np.unique(classes)])
    nearest = np.linalg.norm(tiles[..., None, :] - means, axis=-1).argmin(-1)
    assert (np.unique(classes)[nearest] == classes).mean() > 0.9


def test_abc_keeps_exactly_the_draws_on_which_the_label_is_a_shortest_path():
    task = shortest_path_task(4)
    assert {"abc", "abc-nearest"} <= set(supporting(task)) and "exact" not in supporting(task)
    truth = np.array([[1, 1, 4, 4], [4, 0, 4, 4], [4, 4, 0, 4], [4, 4, 4, 1]])
    probs = torch.full((1, 16, 5), 0.1)
    probs[0, np.arange(16), truth.ravel()] = 0.6
    label = torch.from_numpy(paths_of(truth.ravel()[None]))
    generator = torch.Generator().manual_seed(0)
    posterior = get_engine("abc", task)(task, probs, label, samples=400, generator=generator)
    generator.manual_seed(0)
    draws = torch.multinomial(probs.reshape(-1, 5), 400, replacement=True, generator=generator)
    draws = draws.view(16, 400).T  # (K, 16)
    costs = np.asarray(COSTS)[draws.numpy()].reshape(-1, 4, 4)
    kept = torch.tensor(
        [
            (cost * label[0].numpy().reshape(4, 4)).sum() <= reference_costs(cost) + 1e-4
            for cost in costs
        ]
    )
    assert 0 < int(kept.sum()) < 400
    expected = torch.nn.functional.one_hot(draws[kept], 5).float().mean(0)
    assert torch.allclose(posterior.marginals[0], expected)
    assert float(posterior.acceptance[0]) == pytest.approx(float(kept.float().mean()))
    nearest = get_engine("abc-nearest", task)(task, probs, label, samples=400, generator=generator)
    assert not nearest.fallback.any()


@pytest.mark.parametrize(
    "learner, options, margin",
    [("em", {"batch_size": 8, "epochs": 4}, 0.1), ("blackbox", {"epochs": 3}, 0.2)],
)
def test_learning_from_paths_alone_beats_uniform_costs(learner, options, margin):
    torch.set_num_threads(1)
    config = ShortestPathConfig(
        size=10, maps=(1000, 100, 200), learner=learner, progress=False, **options
    )
    metrics, _ = train_shortest_path(config)
    assert metrics["test_cost_match"] > metrics["test_uniform_cost_match"] + margin
    assert metrics["test_cost_match"] >= metrics["test_path_match"]


def test_bad_options_and_maps_are_refused_by_name():
    with pytest.raises(OptionError, match="size"):
        ShortestPathConfig(size=1)
    with pytest.raises(OptionError, match="maps must be"):
        ShortestPathConfig(maps=(10, 10))
    with pytest.raises(DataError, match="at least 2 x 2"):
        make_splits(1)
    with pytest.raises(NesyError, match="engine 'bp' does not support"):
        ShortestPathConfig(engine="bp")
    with pytest.raises(OptionError, match="balance"):
        ShortestPathConfig(balance=-0.1)
    with pytest.raises(OptionError, match="cluster_init"):
        ShortestPathConfig(cluster_init=-1)


def test_a_corrupted_cache_is_named_and_left_as_it_is(tmp_path):
    cache = tmp_path / "maps.npz"
    cache.write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="maps.npz is not a shortest-path data cache"):
        cached_splits(cache, 4, counts=(3, 2, 2))
    assert cache.read_bytes() == b"not a zip file"
    good = tmp_path / "good.npz"
    made = cached_splits(good, 4, counts=(3, 2, 2))
    assert np.array_equal(cached_splits(good, 4, counts=(3, 2, 2))[0].paths, made[0].paths)
    with pytest.raises(DataError, match="not {'size': 5"):
        cached_splits(good, 5, counts=(3, 2, 2))


def test_abc_without_any_accepted_draw_says_so():
    config = ShortestPathConfig(
        size=12, maps=(16, 4, 4), engine="abc", samples=2, epochs=1, progress=False
    )
    with pytest.raises(NesyError, match="no draw of the abc engine"):
        train_shortest_path(config)


def test_the_command_line_trains_writes_metrics_and_draws_the_paths(tmp_path, capsys):
    metrics, png = tmp_path / "sp.json", tmp_path / "sp.png"
    argv = ["train", "shortest-path", "--size", "6", "--maps", "40", "10", "10", "--epochs", "1"]
    argv += ["--no-progress", "--json-file", str(metrics), "--plot", str(png)]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out.splitlines()[0])
    written = json.loads(metrics.read_text())
    assert printed["test_cost_match"] == written["test_cost_match"]
    assert written["size"] == 6 and len(written["history"]) == 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["train", "shortest-path", "--size", "1"]) != 0
    assert "size" in capsys.readouterr().err


def test_tile_clusters_named_by_the_paths_are_the_terrain_classes():
    from nesy_models.learners.clusters import cluster_ids
    from nesy_models.shortest_path.clusters import best_naming, tiles

    maps = make_splits(6, 0, (120, 2, 2))[0]
    rows = np.arange(len(maps))
    images, classes = maps.images(rows), maps.classes.reshape(len(rows), -1).astype(np.int64)
    cells = tiles(images).reshape(len(rows), 36, 3, TILE, TILE)
    assert np.array_equal(cells[4, 6 + 2], images[4, :, TILE : 2 * TILE, 2 * TILE : 3 * TILE])
    clusters = cluster_ids(tiles(images), len(COSTS), seed=0).reshape(len(rows), 36)
    # the generated textures are apart: each cluster is one class, each class one cluster
    pairs = set(zip(clusters.ravel().tolist(), classes.ravel().tolist(), strict=True))
    assert len(pairs) == len(COSTS) == len({a for a, _ in pairs}) == len({b for _, b in pairs})
    truth = np.zeros(len(COSTS), dtype=np.int64)
    for cluster, terrain in pairs:
        truth[cluster] = terrain
    paths = maps.paths.reshape(len(rows), -1)
    naming, explained = best_naming(clusters, paths)
    assert (regret(truth[clusters][:, None], paths) == 0).all()  # the true names explain all
    assert explained == 1.0
    assert np.array_equal(costs_of(naming[clusters]) <= 1.2, costs_of(classes) <= 1.2)


def test_em_from_named_clusters_finds_the_paths_where_em_alone_does_not():
    torch.set_num_threads(1)
    common = {"size": 6, "maps": (600, 50, 100), "batch_size": 16, "epochs": 1, "progress": False}
    metrics, _ = train_shortest_path(ShortestPathConfig(cluster_init=5, **common))
    plain, _ = train_shortest_path(ShortestPathConfig(**common))
    assert metrics["cluster_naming_explained"] == 1.0
    assert metrics["test_cost_match"] > 0.95 > plain["test_cost_match"] + 0.1
