"""NeuroRule from pixels on generated scene graphs: the source's ablation (A neural only, B rules
without chaining, C without Omega, D full) over seeds, and the speed of the rule engine against
the neural-only baseline as scenes grow.

    .venv/bin/python benchmarks/neurorule_scenes.py ablation --seeds 0 1 2 [--fuse]
    .venv/bin/python benchmarks/neurorule_scenes.py speed [--objects 5 10 20 40]

``ablation``: each run is ``nesy train neurorule-scenes --variant V --seed S`` (the defaults:
1,500 training scenes; ``--fuse``: the rule variants add the bridge's scores of the composed
relations, NeuroRule's fused scores; ``--noise P``: that share of the composed training
triples left unlabelled); its metrics go to ``OUT/scenes-V[-fused][-noiseP]-seedS.json``
(``--out``, default ``out/results``) and a finished run is not redone (give a fresh ``--out``
after changing the generator). Prints, per variant, the median [Q1, Q3] over the seeds of
PredCls recall (graph constraint and not), the composed relations' average precision and
recall on the test and zero-shot scenes, and planted-rule precision and recall; writes a
PNG of the composed AP.
``speed``: milliseconds per image of a forward pass (batch 16) and of a training step, of the
full model (D) and the neural-only baseline (A), side by side in this process, on scenes of
each given number of objects (random boxes; the rule engine's max over intermediate objects
grows with their square per chain step).
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from nesy_models.experiment import write_json
from nesy_models.neurorule import NeuroRule
from nesy_models.neurorule.scenes.config import ABLATION, SceneConfig, build_scene_model
from nesy_models.neurorule.scenes.generate import scene_splits
from nesy_models.neurorule.scenes.model import SceneModel, engine_relations
from nesy_models.neurorule.scenes.relations import COMPOSED, PREDICATES, SINGLE_STEP
from nesy_models.neurorule.scenes.train import scene_loss, train_scenes

#: (label, split, metric key) of the ablation table
COLUMNS = (
    ("R@20", "test", "R@20"),
    ("R@50", "test", "R@50"),
    ("R@100", "test", "R@100"),
    ("mR@50", "test", "mR@50"),
    ("ngR@20", "test", "ngR@20"),
    ("ngmR@20", "test", "ngmR@20"),
    ("composed AP", "test", "composed AP"),
    ("composed ngR@20", "test", "composed ngR@20"),
    ("zero-shot composed AP", "zero_shot", "composed AP"),
    ("zero-shot composed ngR@20", "zero_shot", "composed ngR@20"),
)

#: (label, split, metric key) of the table of composed AP by kind of relation
KIND_COLUMNS = (
    ("single-step AP", "test", "single-step AP"),
    ("through-object AP", "test", "through-object AP"),
    ("zero-shot single-step AP", "zero_shot", "single-step AP"),
    ("zero-shot through-object AP", "zero_shot", "through-object AP"),
)


def quartiles(values: list[float]) -> str:
    q1, q2, q3 = np.percentile(values, [25, 50, 75])
    return f"{q2:.1f} [{q1:.1f}, {q3:.1f}]"


def ablation(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict]] = {}
    splits = None
    noisy = f"-noise{args.noise:g}" if args.noise else ""
    noise = f" --noise {args.noise:g}" if args.noise else ""
    for variant in args.variants:
        for seed in args.seeds:
            fused = args.fuse and variant != "A"
            path = out / f"scenes-{variant}{'-fused' if fused else ''}{noisy}-seed{seed}.json"
            if not path.exists():
                config = SceneConfig(**ABLATION[variant], seed=seed, fuse=fused, noise=args.noise)
                if splits is None:
                    splits = scene_splits(
                        config.scenes, config.data_seed, config.canvas, config.noise
                    )
                fuse = " --fuse" if fused else ""
                print(f"nesy train neurorule-scenes --variant {variant}{fuse}{noise} --seed {seed}")
                write_json(train_scenes(config, splits), path)
            runs.setdefault(variant, []).append(json.loads(path.read_text()))
    header = ["variant", *(c[0] for c in COLUMNS), "rule precision", "rule recall", "s / epoch"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for variant, results in runs.items():
        cells = [quartiles([r[split][key] for r in results]) for _, split, key in COLUMNS]
        rules = [r.get("rules") for r in results]
        for key in ("precision", "recall"):
            cells.append(quartiles([r[key] for r in rules]) if rules[0] else "-")
        cells.append(f"{np.median([r['seconds_per_epoch'] for r in results]):.1f}")
        print(f"| {variant} ({len(results)} seeds) | " + " | ".join(cells) + " |")
    print(f"\ncomposed AP by kind: single-step ({', '.join(SINGLE_STEP)}), through other objects")
    print("| variant | " + " | ".join(c[0] for c in KIND_COLUMNS) + " |")
    print("|" + "---|" * (len(KIND_COLUMNS) + 1))
    for variant, results in runs.items():
        cells = [quartiles([r[split][key] for r in results]) for _, split, key in KIND_COLUMNS]
        print(f"| {variant} ({len(results)} seeds) | " + " | ".join(cells) + " |")
    for variant, results in runs.items():
        if results[0].get("rules"):
            print(f"\n{variant}, seed {args.seeds[0]}: kept rules")
            print("\n".join(f"  {r}" for r in results[0]["rules"]["kept"]))
    if args.plot:
        note = ", fused scores" if args.fuse else ""
        if args.noise:
            note += f", {args.noise:.0%} composed labels missing"
        plot(runs, args.plot, note)
        print(f"saved {args.plot}")


def plot(runs: dict[str, list[dict]], path: str, note: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = list(runs)
    for offset, (split, label) in enumerate((("test", "test"), ("zero_shot", "zero-shot"))):
        values = [[r[split]["composed AP"] for r in runs[v]] for v in names]
        x = np.arange(len(names)) + (offset - 0.5) * 0.35
        ax.bar(x, [np.median(v) for v in values], 0.35, label=label)
        for xi, v in zip(x, values, strict=True):
            ax.plot([xi] * len(v), v, "k.", ms=4)
    ax.set_xticks(range(len(names)), [f"{v}" for v in names])
    ax.set_ylabel("composed relations' AP (%)")
    ax.set_title(
        f"NeuroRule ablation on generated scenes{note}\n(median; dots: seeds)", fontsize=10
    )
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def timed(step, repeats: int) -> float:
    """The best of ``repeats`` timings of ``step()``, in seconds."""
    best = np.inf
    for _ in range(repeats):
        began = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - began)
    return best


def sized_model(variant: str, objects: int) -> SceneModel:
    """The variant's model with a rule engine over ``objects`` objects per scene."""
    config = SceneConfig(**ABLATION[variant])
    model = build_scene_model(config)
    if model.rules is not None:
        relations = engine_relations(config.unary)
        model.rules = NeuroRule(
            objects, len(relations), rules=config.rules, length=config.length,
            tau=config.tau, hops=config.hops, mixed=config.mixed, relations=relations,
            heads=[relations.index(c) for c in COMPOSED],
        )  # fmt: skip
    return model


def forward_pass(model: SceneModel, inputs: tuple) -> None:
    with torch.no_grad():
        model(*inputs)


def train_step(model: SceneModel, optimizer, inputs: tuple, truths: torch.Tensor) -> None:
    scores = model(*inputs)
    loss = scene_loss(model, scores, inputs[2], truths, 0.1)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def speed(args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    batch = 16
    print(
        "| objects | D forward ms / image | A forward | ratio | D train step ms / image |"
        " A train step | ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in args.objects:
        images = torch.randint(0, 256, (batch, 3, 64, 64), dtype=torch.uint8)
        corner = torch.randint(0, 50, (batch, n, 2))
        boxes = torch.cat([corner, corner + torch.randint(4, 14, (batch, n, 2))], dim=-1)
        inputs = (images, boxes, torch.randint(0, 7, (batch, n)), torch.full((batch,), n))
        truths = torch.rand(batch, len(PREDICATES), n, n) < 0.1
        row = []
        for variant in ("D", "A"):
            model = sized_model(variant, n)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
            row.append(
                (
                    timed(partial(forward_pass, model, inputs), args.repeats),
                    timed(partial(train_step, model, optimizer, inputs, truths), args.repeats),
                )
            )
        (df, dt), (af, at) = row
        ms = 1000 / batch
        print(
            f"| {n} | {df * ms:.2f} | {af * ms:.2f} | {df / af:.1f} | {dt * ms:.2f} |"
            f" {at * ms:.2f} | {dt / at:.1f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    a = sub.add_parser("ablation")
    a.add_argument("--variants", nargs="+", default=list(ABLATION), choices=list(ABLATION))
    a.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    a.add_argument(
        "--fuse", action="store_true", help="rule variants with fused scores (bridge + rules)"
    )
    a.add_argument(
        "--noise", type=float, default=0.0, help="share of composed training triples unlabelled"
    )
    a.add_argument("--plot", default="docs/img/neurorule_scenes_ablation.png")
    a.add_argument("--out", default="out/results", help="folder of the runs' metrics (cache)")
    a.set_defaults(run=ablation)
    s = sub.add_parser("speed")
    s.add_argument("--objects", type=int, nargs="+", default=[5, 10, 20, 40])
    s.add_argument("--repeats", type=int, default=5)
    s.set_defaults(run=speed)
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.run(args)


if __name__ == "__main__":
    main()
