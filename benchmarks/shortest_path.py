"""The EM-NeSy paper's table 3 on generated terrain maps: shortest paths learned from path labels
alone, by ABC-EM and by blackbox differentiation of the solver, over seeds.

    .venv/bin/python benchmarks/shortest_path.py --seeds 3 [--only NAME ...]
    .venv/bin/python benchmarks/shortest_path.py --solver

``--solver`` times the batched solver against scipy's Dijkstra (one map at a time, the graph
built once per size, only the costs changing), side by side, on the same maps.

Each row is one ``nesy train shortest-path`` configuration run once per seed (the command is
in the table); every run's metrics land in ``out/results/sp-NAME-seedS.json`` and a finished
run is not redone. The table gives the median and quartiles over the finished seeds of the test
cost match (the metric of the paper's table), the exact path match and the cell-class accuracy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from nesy_models.experiment import write_json
from nesy_models.shortest_path.train import ShortestPathConfig, train_shortest_path

OUT = Path("out/results")

#: The paper's best of each column (A-NeSI at 12 x 12, I-MLE at 30 x 30).
TARGETS = {12: 98.96, 30: 93.40}
#: 30 x 30 epochs cost about 5 times more: 2,000 training maps there.
SMALL = {"maps": (2000, 500, 500)}
LEARNERS = {
    "em-abcnear": {"learner": "em", "engine": "abc-nearest"},
    "blackbox": {"learner": "blackbox"},
}
#: name -> (options of ``nesy train shortest-path``, target % from the paper's table 3)
ROWS: dict[str, tuple[dict, float]] = {
    f"{name}-{size}": ({"size": size, **options, **extra, "epochs": epochs}, TARGETS[size])
    for size, extra, epochs in ((12, {}, 8), (30, SMALL, 5))
    for name, options in LEARNERS.items()
}
#: 20 epochs, without and with EM's class-balance term
LONG = {"epochs": 20, "patience": 20}
ROWS["em-abcnear-20ep-12"] = ({"size": 12, **LEARNERS["em-abcnear"], **LONG}, TARGETS[12])
#: ABC-EM started from the cells' tile clusters, named by the path labels (2 epochs of fitting)
ROWS |= {
    f"em-abcnear-clusters-{size}": (
        {"size": size, **LEARNERS["em-abcnear"], **extra, "cluster_init": 2, "epochs": epochs},
        TARGETS[size],
    )
    for size, extra, epochs in ((12, {}, 8), (30, SMALL, 5))
}
ROWS["em-abcnear-balance-12"] = (
    {"size": 12, **LEARNERS["em-abcnear"], "balance": 0.3, **LONG},
    TARGETS[12],
)


def command(options: dict, seed: int | str) -> str:
    flags = "".join(
        f" --{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, tuple) else v}"
        for k, v in options.items()
    )
    return f"nesy train shortest-path{flags} --seed {seed}"


def quartiles(values: list[float]) -> str:
    q1, median, q3 = np.percentile(100 * np.asarray(values), [25, 50, 75])
    return f"{median:.1f} [{q1:.1f}, {q3:.1f}]"


def table(seeds: int) -> str:
    lines = [
        "| run | cost match % | path match % | cell accuracy % | seeds | s / epoch | target |"
        " command (per seed) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, (options, target) in ROWS.items():
        results = [
            json.loads(p.read_text())
            for s in range(seeds)
            if (p := OUT / f"sp-{name}-seed{s}.json").exists()
        ]
        if not results:
            continue
        per_epoch = np.median([r["seconds_per_epoch"] for r in results])
        lines.append(
            f"| {name} | {quartiles([r['test_cost_match'] for r in results])} |"
            f" {quartiles([r['test_path_match'] for r in results])} |"
            f" {quartiles([r['test_cell_accuracy'] for r in results])} | {len(results)} |"
            f" {per_epoch:.1f} | > {target} | `{command(options, 'S')}` |"
        )
    return "\n".join(lines)


def solver_speed(maps: int = 2000) -> None:
    """Milliseconds per map of the batched solver and of scipy's Dijkstra, and their ratio."""
    import time

    from scipy.sparse.csgraph import dijkstra

    from nesy_models.shortest_path.data import costs_of
    from nesy_models.shortest_path.solver import grid_graph, shortest_paths
    from nesy_models.shortest_path.terrain import class_maps

    print("| map | maps | batched ms / map | scipy Dijkstra ms / map | scipy / batched |")
    print("|---|---|---|---|---|")
    for size in (12, 30):
        costs = costs_of(class_maps(maps, size, 0))
        began = time.perf_counter()
        shortest_paths(costs)
        batched = (time.perf_counter() - began) / maps
        graph = grid_graph(size)
        flat = costs.flatten(1).double().numpy()
        began = time.perf_counter()
        for row in flat[: maps // 10]:
            graph.data = row[graph.indices]
            dijkstra(graph, indices=0, return_predecessors=True)
        reference = (time.perf_counter() - began) / (maps // 10)
        print(
            f"| {size}x{size} | {maps} | {1e3 * batched:.3f} | {1e3 * reference:.3f} |"
            f" {reference / batched:.1f}x |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="run only these rows")
    parser.add_argument("--table-only", action="store_true", help="just print the table")
    parser.add_argument("--solver", action="store_true", help="time the solvers instead")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.solver:
        return solver_speed()
    OUT.mkdir(parents=True, exist_ok=True)
    for name in [] if args.table_only else args.only or list(ROWS):
        options, _ = ROWS[name]
        for seed in range(args.seeds):
            path = OUT / f"sp-{name}-seed{seed}.json"
            if path.exists():
                continue
            print(command(options, seed), flush=True)
            metrics, _ = train_shortest_path(
                ShortestPathConfig(**options, seed=seed, progress=False)
            )
            write_json(metrics, path)
            print(
                f"  -> cost match {100 * metrics['test_cost_match']:.1f} %,"
                f" {metrics['seconds_per_epoch']:.1f} s/epoch",
                flush=True,
            )
    print(table(args.seeds))


if __name__ == "__main__":
    main()
