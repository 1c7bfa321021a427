"""NeuroRule on a knowledge-graph completion benchmark (Kinship, UMLS, Nations; the ConvE split):
filtered MRR and Hits@1/3/10 over both directions, seconds per epoch and in total, and the
learned rules of a few heads, one line per seed.

    .venv/bin/python benchmarks/neurorule_kg.py --dataset kinship [--seeds 0 1] [--rules 8] ...

Each run's metrics (history and rules included) go to ``out/neurorule/DATASET-seedS.json``
(``--tag`` adds a suffix, so that runs of other options do not overwrite each other). The
defaults of the options are those of :class:`NeuroRuleConfig`.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import fields
from pathlib import Path

import torch

from nesy_models.data.kg import load_kg
from nesy_models.neurorule import NeuroRuleConfig, learned_rules, train_neurorule

#: the options of NeuroRuleConfig this script passes on (flag: --name-with-dashes)
TUNED = (
    "rules", "length", "tau", "hops", "loss", "lam", "epochs", "batch_size", "lr",
    "weight_decay", "patience", "init_std", "embedding", "embedding_reg", "embedding_lr",
)  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="kinship")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--heads", type=int, default=3, help="print the rules of this many heads")
    parser.add_argument("--tag", default="", help="suffix of the JSON file names")
    parser.add_argument("--out", default="out/neurorule")
    parser.add_argument("--no-identity", action="store_true", help="no identity predicate")
    parser.add_argument("--mixed", action="store_true", help="templates of every length 1..L")
    parser.add_argument("--progress", action="store_true", help="progress bars (stderr)")
    defaults = {f.name: f.default for f in fields(NeuroRuleConfig)}
    for name in TUNED:
        value = defaults[name]
        parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    data_dir = os.path.abspath(args.data_dir)
    kg = load_kg(args.dataset, data_dir)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        options = {name: getattr(args, name) for name in TUNED}
        config = NeuroRuleConfig(
            dataset=args.dataset,
            data_dir=data_dir,
            seed=seed,
            identity=not args.no_identity,
            mixed=args.mixed,
            progress=args.progress,
            **options,
        )
        metrics = train_neurorule(config, kg=kg, return_model=True)
        model = metrics.pop("model")
        heads = kg.relations[: args.heads]
        rules = learned_rules(model, top=config.top_rules, heads=heads)
        print(
            f"{args.dataset} seed {seed} {options} identity={config.identity}"
            f" mixed={config.mixed}:"
            f" valid MRR {metrics['valid_mrr']:.3f} (epoch {metrics['best_epoch']}"
            f" of {metrics['epochs_run']}), test MRR {metrics['mrr']:.3f},"
            f" Hits@1 {metrics['hits@1']:.3f}, Hits@3 {metrics['hits@3']:.3f},"
            f" Hits@10 {metrics['hits@10']:.3f}; {metrics['seconds_per_epoch']:.1f} s/epoch,"
            f" {metrics['total_seconds']:.0f} s in all"
            + (
                f"; embedding: valid MRR {metrics['embedding_valid_mrr']:.3f} alone,"
                f" {metrics['valid_mrr_with_embedding']:.3f} with the rules, eta per relation"
                f" {_spread(metrics['eta'].values())}, {metrics['embedding_seconds']:.0f} s"
                if config.embedding
                else ""
            ),
            flush=True,
        )
        for rule in rules:
            print("   ", rule)
        path = Path(args.out) / f"{args.dataset}-seed{seed}{args.tag}.json"
        path.write_text(json.dumps(metrics, indent=1, default=str))


def _spread(values) -> str:
    """Median and range of some numbers, as text."""
    values = sorted(values)
    return f"median {values[len(values) // 2]} ({values[0]} to {values[-1]})"


if __name__ == "__main__":
    main()
