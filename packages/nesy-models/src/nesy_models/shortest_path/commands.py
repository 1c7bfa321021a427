"""``nesy train shortest-path`` and ``nesy demo shortest-path``."""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from ..experiment import write_json
from .learners import expected_costs
from .plots import plot_paths
from .solver import path_costs, shortest_paths
from .train import ShortestPathConfig, train_shortest_path


def config_of(args: argparse.Namespace) -> ShortestPathConfig:
    """The training options of a parsed command line (checked)."""
    names = ShortestPathConfig.__dataclass_fields__
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if "maps" in given:
        given["maps"] = tuple(given["maps"])
    return ShortestPathConfig(**given)


def train(args: argparse.Namespace) -> int:
    from ..checks import writable

    config = config_of(args)
    for path in (args.json, args.plot):
        if path:
            writable(path)
    torch.set_num_threads(args.threads)
    metrics, net, test = train_shortest_path(config, keep_test=True)
    summary = {
        k: metrics[k]
        for k in ("test_cost_match", "test_path_match", "test_cell_accuracy", "seconds_per_epoch")
    }
    print(json.dumps(summary))
    if args.json:
        write_json(metrics, args.json)
    if args.plot:
        row = winding(test)
        draw_example(net, test, row, args.plot)
        print(f"test map {row} (the first whose path winds) with its paths saved to {args.plot}")
    return 0


def winding(maps) -> int:
    """The first map whose optimal path is not the straight diagonal (0 if every one is)."""
    diagonal = np.eye(maps.paths.shape[-1], dtype=bool)
    rows = np.flatnonzero((maps.paths != diagonal).any((1, 2)))
    return int(rows[0]) if len(rows) else 0


@torch.no_grad()
def draw_example(net, maps, row: int, path: str) -> None:
    """Save a PNG of test map ``row`` with its label path and the path on ``net``'s costs."""
    net.eval()
    rows = np.array([row])
    image = maps.images(rows)
    size = maps.classes.shape[-1]
    found = shortest_paths(expected_costs(net(image), size))[0]
    truth = maps.costs(rows)
    cost = float(path_costs(found, truth))
    optimal = float(path_costs(torch.from_numpy(maps.paths[rows]), truth))
    title = f"{size}x{size} map: path cost {cost:.1f} on the true costs (optimal {optimal:.1f})"
    plot_paths(image[0].numpy(), maps.paths[row], found[0].numpy(), path, title)


def demo(args: argparse.Namespace) -> int:
    """A short run of ABC-EM on small 12 x 12 map sets, then a PNG of a test map's paths."""
    torch.set_num_threads(1)
    config = ShortestPathConfig(
        size=12,
        maps=(args.maps, 200, 200),
        epochs=args.epochs,
        batch_size=8,
        seed=args.seed,
        progress=False,
    )
    print(
        f"Shortest paths on generated 12x12 terrain maps: {args.maps} training maps, labels"
        " are optimal paths only; EM with the abc-nearest engine (draws of the cell classes,"
        " each solved; kept: the draws on which the label path is nearest to shortest)"
    )
    metrics, net, test = train_shortest_path(config, keep_test=True)
    for e in metrics["history"]:
        print(
            f"  epoch {e['epoch']}: validation cost match {e['val_cost_match']:.3f}, cell"
            f" accuracy {e['val_cell_accuracy']:.3f} ({e['seconds']:.1f} s)"
        )
    print(
        f"Test: cost match {metrics['test_cost_match']:.3f}, exact path"
        f" {metrics['test_path_match']:.3f}, cell classes {metrics['test_cell_accuracy']:.3f}"
        f" (uniform costs, the straight diagonal: cost match"
        f" {metrics['test_uniform_cost_match']:.3f})"
    )
    draw_example(net, test, winding(test), args.plot)
    print(f"A test map whose path winds, with its true and predicted paths, saved to {args.plot}")
    return 0
