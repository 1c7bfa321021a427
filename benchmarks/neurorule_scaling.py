"""NeuroRule's cost against the number of entities: one forward + backward pass of the rule
bodies from a batch of query subjects, on the dense path (every pair, (R, T, E, E) tensors) and
the sparse path (:mod:`nesy_models.neurorule.sparse`, exact and with top-k pruning), on
generated graphs of a fixed average degree.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/neurorule_scaling.py [--entities 100 1000 ...]

Each (path, size) runs in its own process, so that its peak memory is its own: the table gives
the median seconds of ``--repeats`` passes, the peak resident memory the pass added (MB), and
for top-k the largest error of a body truth against the exact sparse path and the share of the
exact top-10 answers of each (subject, rule) that it keeps. A PNG of time and memory against
the number of entities goes to ``--plot``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from pathlib import Path

import numpy as np
import torch

from nesy_models.neurorule import NeuroRule, adjacency
from nesy_models.neurorule.sparse import query_log_bodies, sparse_graph

#: dense (R, T, L, E, E) slots and bodies: 0.6 GB at 1000 entities, growing with E^2
DENSE_LIMIT = 1000


def generated_triples(entities: int, relations: int, degree: float, seed: int) -> np.ndarray:
    """``degree * entities`` random triples (h, r, t): each entity has ``degree`` outgoing edges
    on average, whatever the size."""
    rng = np.random.default_rng(seed)
    n = int(degree * entities)
    return np.stack(
        [
            rng.integers(entities, size=n),
            rng.integers(relations, size=n),
            rng.integers(entities, size=n),
        ],
        axis=1,
    )


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(args: argparse.Namespace, path: str, entities: int, top_k: int | None) -> dict:
    """One (path, size): seconds per forward + backward pass, peak MB it added, top-k error."""
    torch.set_num_threads(1)
    triples = generated_triples(entities, args.relations, args.degree, args.seed)
    torch.manual_seed(args.seed)
    model = NeuroRule(entities, args.relations, rules=args.rules, length=args.length, tau=args.tau)
    sources = torch.randperm(entities)[: args.queries]
    if path == "dense":
        facts = adjacency(triples, entities, args.relations)

        def bodies():
            return model.log_bodies(facts)[:, :, sources]
    else:
        graph = sparse_graph(triples, entities, args.relations)

        def bodies():
            return query_log_bodies(model, graph, sources, top_k)

    before, seconds = peak_mb(), []
    for _ in range(args.repeats):
        began = time.perf_counter()
        value = bodies()
        value.exp().sum().backward()
        seconds.append(time.perf_counter() - began)
        model.zero_grad()
    result = {"seconds": float(np.median(seconds)), "extra_mb": peak_mb() - before}
    if top_k is not None:
        with torch.no_grad():
            exact, pruned = query_log_bodies(model, graph, sources).exp(), value.detach().exp()
        result["error"] = float((exact - pruned).abs().max())
        best = exact.topk(10, dim=-1).indices
        kept = torch.gather(pruned, -1, best) >= pruned.topk(10, dim=-1).values[..., -1:]
        result["top10_kept"] = float(kept.float().mean())
    return result


def run(args: argparse.Namespace, path: str, entities: int, top_k: int | None) -> dict:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(measure, (args, path, entities, top_k))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--entities", type=int, nargs="+", default=[100, 300, 1000, 3000, 10000, 30000, 100000]
    )
    parser.add_argument("--relations", type=int, default=2)
    parser.add_argument("--degree", type=float, default=4.0, help="edges per entity")
    parser.add_argument("--rules", type=int, default=2, help="templates per head relation")
    parser.add_argument("--length", type=int, default=3)
    parser.add_argument("--tau", type=float, default=0.1)
    parser.add_argument("--queries", type=int, default=8, help="query subjects per pass")
    parser.add_argument("--top-k", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="out/neurorule/scaling.png")
    args = parser.parse_args()
    rows = []
    print("| entities | edges | path | s / pass | peak extra MB | top-k max error | top-10 kept |")
    print("|---|---|---|---|---|---|---|")
    for entities in args.entities:
        paths = [("sparse", None), (f"top-{args.top_k}", args.top_k)]
        if entities <= DENSE_LIMIT:
            paths.insert(0, ("dense", None))
        for name, top_k in paths:
            r = run(args, "dense" if name == "dense" else "sparse", entities, top_k)
            rows.append((entities, name, r))
            error = f"{r['error']:.2e}" if "error" in r else "-"
            kept = f"{r['top10_kept']:.3f}" if "top10_kept" in r else "-"
            print(
                f"| {entities} | {int(args.degree * entities)} | {name} | {r['seconds']:.4f} |"
                f" {r['extra_mb']:.0f} | {error} | {kept} |",
                flush=True,
            )
    plot(rows, args.plot)


def plot(rows: list, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name in dict.fromkeys(name for _, name, _ in rows):
        points = [(e, r) for e, n, r in rows if n == name]
        sizes = [e for e, _ in points]
        axes[0].plot(sizes, [r["seconds"] for _, r in points], "o-", label=name)
        axes[1].plot(sizes, [max(r["extra_mb"], 0.1) for _, r in points], "o-", label=name)
    labels = ("seconds per forward + backward", "peak extra memory (MB)")
    for ax, label in zip(axes, labels, strict=True):
        ax.set(xscale="log", yscale="log", xlabel="entities", ylabel=label)
        ax.legend()
    fig.suptitle("NeuroRule chain bodies from a batch of query subjects")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
