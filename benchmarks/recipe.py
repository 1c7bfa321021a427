"""The training recipe of MNIST addition: optimiser and image scale, over seeds.

    .venv/bin/python benchmarks/recipe.py --data-dir ../shared/data [--seeds 10] [--epochs 1]

Each run is ``nesy train mnist-addition --digits N --epochs E --seed S`` with one recipe's
``--weight-decay`` and ``--[no-]centre-images``, in this process, one torch thread. The four
recipes cross the two changes between our first recipe (AdamW with weight decay 0.01, images in
[0, 1]) and DeepLog's (Adam, images scaled to [-1, 1] by ``Normalize(0.5, 0.5)``), so the table
shows which change matters. The runs go seed by seed, every recipe in turn, so that a change in
the machine's load falls on all recipes alike. Prints per recipe the mean, min and max test
accuracy, the seconds per epoch, and each seed's accuracy; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from tqdm.auto import tqdm

from nesy_models.experiment import RunConfig, run
from tables import table

#: name -> (weight decay, centre images): what ``nesy train`` gets for each recipe
RECIPES = {
    "adamw-unit": (0.01, False),  # the first default: AdamW, images in [0, 1]
    "adamw-centred": (0.01, True),
    "adam-unit": (0.0, False),
    "adam-centred": (0.0, True),  # DeepLog's: Adam, images in [-1, 1]
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="MNIST's folder (default: $NESY_DATA)")
    parser.add_argument("--digits", type=int, default=1, help="digits per number (N)")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs per run")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 .. seeds-1 per recipe")
    parser.add_argument("--backend", choices=("torch", "jax"), default="torch")
    parser.add_argument(
        "--recipes", default=",".join(RECIPES), help="comma-separated, from: " + ", ".join(RECIPES)
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = [name for name in args.recipes.split(",") if name]
    unknown = [name for name in names if name not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s) {', '.join(unknown)} (known: {', '.join(RECIPES)})")

    accuracy = {name: [] for name in names}
    seconds = {name: [] for name in names}
    runs = [(seed, name) for seed in range(args.seeds) for name in names]
    sources = set()
    for seed, name in tqdm(runs, desc="runs", file=sys.stderr):
        weight_decay, centre = RECIPES[name]
        config = RunConfig(
            digits=args.digits,
            epochs=args.epochs,
            seed=seed,
            data_dir=args.data_dir,
            backend=args.backend,
            weight_decay=weight_decay,
            centre_images=centre,
            progress=False,
        )
        metrics = run(config)
        sources.add(metrics["data"])
        accuracy[name].append(100 * metrics["test_accuracy"])
        seconds[name].append(metrics["seconds_per_epoch"])

    rows = []
    for name in names:
        weight_decay, centre = RECIPES[name]
        acc = np.array(accuracy[name])
        rows.append(
            [
                name,
                f"{weight_decay:g}",
                "[-1, 1]" if centre else "[0, 1]",
                f"{acc.mean():.2f}",
                f"{acc.min():.2f}",
                f"{acc.max():.2f}",
                f"{np.mean(seconds[name]):.1f}",
                " ".join(f"{a:.2f}" for a in acc),
            ]
        )
    table(
        f"MNIST addition N={args.digits}, {args.epochs} epoch(s), seeds 0-{args.seeds - 1},"
        f" {args.backend}, data {', '.join(sorted(sources))}: test accuracy (%)",
        ["recipe", "weight decay", "images", "mean", "min", "max", "s/epoch", "per seed"],
        rows,
    )


if __name__ == "__main__":
    main()
