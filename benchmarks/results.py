"""Reproduce the DeepLog paper's tables 2 to 4 as far as this machine allows; write docs/results.md.

    .venv/bin/python benchmarks/results.py --data-dir ../shared/data --seeds 3 [--only NAME ...]

Each row is one ``nesy train`` configuration run once per seed (the command is printed in the
table); every run's metrics land in ``out/results/NAME-seedS.json`` and a finished run is not
redone, so an interrupted reproduction resumes. The table gives the median and the quartiles of
the test accuracy (average precision for Sudoku) over the seeds that have finished.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from nesy_models.experiment import RunConfig, run, write_json
from nesy_models.tasks import GROUNDED_DIGITS

OUT = Path("out/results")

#: The carry encoding has few examples per epoch (60,000 / 2N): small batches and a cosine
#: learning rate over a fixed budget of epochs instead of early stopping.
LONG_CARRY = {"encoding": "carry", "batch_size": 2, "schedule": "cosine", "patience": 30}

#: Standard N = 4 has 7,500 examples per epoch: batch 8, a cosine learning rate over a fixed
#: budget of epochs and 2-pixel shifts of the training images.
LONG_STANDARD = {"batch_size": 8, "schedule": "cosine", "augment": 2, "patience": 20}

#: EM-NeSy's learner: the E-step by belief propagation, the M-step fits the posterior marginals.
EM_BP = {"learner": "em", "engine": "bp", "em": "soft"}
#: ... or exactly, by the circuit's backward pass (the standard encoding: the sum is one query).
EM_EXACT = {"learner": "em", "engine": "exact", "em": "soft"}
#: ... or by rejection sampling keeping the draws nearest the observed sum.
EM_ABC_NEAREST = {"learner": "em", "engine": "abc-nearest", "em": "soft", "samples": 1000}
#: ViSudo-PC: 200 boards per split, small batches over many epochs (150 at 4x4, 60 at 9x9,
#: whose epochs cost 10 times more), no early stopping.
VISUDO = {"batch_size": 8, "patience": 150}
#: the digit network first fitted to k-means clusters of the training images (3 epochs)
CLUSTERS = {"cluster_init": 3}
#: The source's BP-std: backpropagation through belief propagation unrolled.
BP_STD = {"learner": "backprop", "engine": "bp"}
#: ... or by rejection sampling (abc) with 1000 draws per example.
EM_ABC = {"learner": "em", "engine": "abc", "em": "soft", "samples": 1000}

#: name -> (table, options of ``nesy train mnist-addition`` or ``sudoku``, epochs)
ROWS: dict[str, tuple[str, dict, int]] = {
    "add1-prob": ("3", {"digits": 1}, 1),
    "add2-prob": ("3", {"digits": 2}, 1),
    "add1-prob-10ep": ("3", {"digits": 1}, 10),
    "add2-prob-15ep": ("3", {"digits": 2}, 15),
    "add3-prob": ("3", {"digits": 3}, 3),
    "add4-prob-b8-aug": ("3", {"digits": 4, **LONG_STANDARD}, 20),
    **{
        f"add1-{semantics}-5ep": ("3", {"digits": 1, "semantics": semantics}, 5)
        for semantics in ("prob", "godel", "lukasiewicz", "product", "prob-fuzzy")
    },
    **{
        f"add1-loss-{semantics}-5ep": (
            "3",
            {"digits": 1, "semantics": semantics, "logic": "loss"},
            5,
        )
        for semantics in ("prob", "godel", "lukasiewicz", "product", "prob-fuzzy")
    },
    "add1-none-5ep": ("3", {"digits": 1, "logic": "none"}, 5),
    "carry4-prob": ("4", {"digits": 4, "encoding": "carry"}, 4),
    "carry15-prob": ("4", {"digits": 15, "encoding": "carry"}, 10),
    "carry15-prob-b2": ("4", {"digits": 15, **LONG_CARRY}, 30),
    "carry15-prob-aug": ("4", {"digits": 15, **LONG_CARRY, "augment": 2}, 30),
    "carry100-prob-aug": ("4", {"digits": 100, **LONG_CARRY, "batch_size": 1, "augment": 2}, 40),
    "carry100-prob-aug-80ep": (
        "4",
        {"digits": 100, **LONG_CARRY, "batch_size": 1, "augment": 2, "patience": 80},
        80,
    ),
    # EM-NeSy (its table 1): EM whose E-step is belief propagation (or rejection sampling),
    # the recipes of the backprop rows above.
    "em-bp-carry4": (
        "EM 1",
        {"digits": 4, **LONG_CARRY, **EM_BP, "batch_size": 8, "augment": 2},
        20,
    ),
    "em-bp-carry15": ("EM 1", {"digits": 15, **LONG_CARRY, **EM_BP, "augment": 2}, 30),
    "em-bp-carry100-80ep": (
        "EM 1",
        {"digits": 100, **LONG_CARRY, **EM_BP, "batch_size": 1, "augment": 2, "patience": 80},
        80,
    ),
    "bpstd-carry4": (
        "EM 1",
        {"digits": 4, **LONG_CARRY, **BP_STD, "batch_size": 8, "augment": 2},
        20,
    ),
    "bpstd-carry15": ("EM 1", {"digits": 15, **LONG_CARRY, **BP_STD, "augment": 2}, 30),
    "bpstd-carry100-80ep": (
        "EM 1",
        {"digits": 100, **LONG_CARRY, **BP_STD, "batch_size": 1, "augment": 2, "patience": 80},
        80,
    ),
    "em-exact-add4": ("EM 1", {"digits": 4, **LONG_STANDARD, **EM_EXACT}, 20),
    "em-abcnear-carry4": (
        "EM 1",
        {"digits": 4, **LONG_CARRY, **EM_ABC_NEAREST, "batch_size": 8, "augment": 2},
        20,
    ),
    "em-abcnear-carry15": (
        "EM 1",
        {"digits": 15, **LONG_CARRY, **EM_ABC_NEAREST, "augment": 2},
        30,
    ),
    "em-abcnear-carry100-80ep": (
        "EM 1",
        {
            "digits": 100,
            **LONG_CARRY,
            **EM_ABC_NEAREST,
            "batch_size": 1,
            "augment": 2,
            "patience": 80,
        },
        80,
    ),
    "em-abc-carry4": (
        "EM 1",
        {"digits": 4, **LONG_CARRY, **EM_ABC, "batch_size": 8, "augment": 2},
        2,
    ),
    # EM-NeSy's table 2: ViSudo-PC (split S = seed S), every engine that serves each size
    **{
        f"visudo{dim}-{name}": (
            "EM 2",
            {"task": "visudo", "dimension": dim, **VISUDO, **options},
            epochs,
        )
        for dim, epochs, rows in (
            (
                4,
                150,
                {
                    "exact": {},
                    "em-exact": EM_EXACT,
                    "em-abcnear": EM_ABC_NEAREST,
                    "em-bp": EM_BP,
                    "bpstd": BP_STD,
                },
            ),
            (
                9,
                60,
                {
                    "em-abcnear": EM_ABC_NEAREST,
                    "em-bp": EM_BP,
                    "em-abcnear-clusters": EM_ABC_NEAREST | CLUSTERS,
                    "em-bp-clusters": EM_BP | CLUSTERS,
                },
            ),
        )
        for name, options in rows.items()
    },  # fmt: skip
    **{
        f"sudoku-{name}": ("2", {"task": "sudoku", **options}, 5)
        for name, options in {
            "prob": {},
            "godel": {"semantics": "godel"},
            "product": {"semantics": "product"},
            "prob-fuzzy": {"semantics": "prob-fuzzy"},
            "loss": {"logic": "loss"},
            "none": {"logic": "none"},
        }.items()
    },
}

#: The source's best published results the issue sets as targets (accuracy, %).
TARGETS = {"add1-prob": 97.5, "add1-prob-10ep": 97.5, "add2-prob": 96.0, "add2-prob-15ep": 96.0}
TARGETS["add4-prob-b8-aug"] = 92.5
TARGETS |= {"carry15-prob": 80.8, "carry15-prob-b2": 80.8, "carry15-prob-aug": 80.8}
TARGETS["carry100-prob-aug"] = TARGETS["carry100-prob-aug-80ep"] = 37.8
#: EM-NeSy's table 1: the best result of any method in the column (4, 15 and 100 digits).
TARGETS |= {"em-bp-carry4": 93.28, "em-abc-carry4": 93.28, "em-bp-carry15": 74.85}
TARGETS |= {"bpstd-carry4": 93.28, "bpstd-carry15": 74.85, "em-exact-add4": 93.28}
TARGETS |= {"em-abcnear-carry4": 93.28, "em-abcnear-carry15": 74.85}
TARGETS["em-abcnear-carry100-80ep"] = 11.60
TARGETS["em-bp-carry100-80ep"] = TARGETS["bpstd-carry100-80ep"] = 11.60
#: EM-NeSy's table 2: the best of each column (A-NeSI), 4 x 4 and 9 x 9.
TARGETS |= {name: 89.7 if name.startswith("visudo4") else 59.2 for name in ROWS if "visudo" in name}


#: RunConfig fields whose command-line flag has another name
FLAGS = {"dimension": "dim"}
#: The recorded rows fed LeNet its images in [0, 1], as before [-1, 1] became the default:
#: every row runs so, to reproduce them.
RECORDED = {"centre_images": False}


def recorded(options: dict) -> dict:
    """The options the rows were recorded with that are no longer the defaults: images in
    [0, 1]; MNIST addition's standard encoding grounded up to N = 3 (the linear-sum compiler,
    which gives the same values, became the default after)."""
    grounded = (
        options.get("task", "mnist-addition") == "mnist-addition"
        and options.get("encoding", "standard") == "standard"
        and options.get("digits", 1) <= GROUNDED_DIGITS
    )
    return RECORDED | ({"compiler": "grounding"} if grounded else {})


def seeded(options: dict, seed: int | str) -> dict:
    """The options of one run: ViSudo-PC's split is the seed too."""
    return options | {"split": seed} if options.get("task") == "visudo" else options


def command(options: dict, epochs: int, seed: int | str) -> str:
    """The ``nesy train`` command of one run (``seed`` "S": of any seed)."""
    task = options.get("task", "mnist-addition")
    flags = "".join(
        f" --{FLAGS.get(k, k).replace('_', '-')} {v}"
        for k, v in (seeded(options, seed) | recorded(options)).items()
        if k not in ("task", "centre_images")
    )
    return (
        f"nesy train {task}{flags} --no-centre-images --epochs {epochs} --seed {seed}"
        " --data-dir ../shared/data"
    )


def metric(result: dict) -> float:
    """The table's metric: accuracy, or average precision for the DeepLog paper's Sudoku."""
    ap = result.get("test_average_precision")
    return 100 * (ap if ap is not None and result["task"] == "sudoku" else result["test_accuracy"])


def table(seeds: int) -> str:
    lines = [
        "| table | run | metric % median [Q1, Q3] | seeds | digit % | s / epoch | ms / query |"
        " target | command (per seed) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, (number, options, epochs) in ROWS.items():
        results = [
            json.loads(p.read_text())
            for s in range(seeds)
            if (p := OUT / f"{name}-seed{s}.json").exists()
        ]
        if not results:
            continue
        values = np.array([metric(r) for r in results])
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        per_epoch = np.median([r["seconds_per_epoch"] for r in results])
        per_query = np.median([r["inference_ms_per_query"] for r in results])
        target = TARGETS.get(name)
        digits = [100 * d for r in results if (d := r.get("test_digit_accuracy")) is not None]
        digit = f"{np.median(digits):.2f}" if digits else ""
        lines.append(
            f"| {number} | {name} | {median:.1f} [{q1:.1f}, {q3:.1f}] | {len(results)} |"
            f" {digit} | {per_epoch:.1f} | {per_query:.3f} | {f'> {target}' if target else ''} |"
            f" `{command(options, epochs, 'S')}` |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="run only these rows")
    parser.add_argument("--table-only", action="store_true", help="just rewrite the table")
    args = parser.parse_args()
    names = args.only or list(ROWS)
    OUT.mkdir(parents=True, exist_ok=True)
    for name in [] if args.table_only else names:
        _, options, epochs = ROWS[name]
        for seed in range(args.seeds):
            path = OUT / f"{name}-seed{seed}.json"
            if path.exists():
                continue
            print(command(options, epochs, seed), flush=True)
            config = RunConfig(
                **seeded(options, seed) | recorded(options),
                epochs=epochs,
                seed=seed,
                data_dir=args.data_dir,
                progress=False,
            )
            result = run(config)
            write_json(result, path)
            print(f"  -> {metric(result):.2f} %, {result['seconds_per_epoch']:.1f} s/epoch")
    print(table(args.seeds))


if __name__ == "__main__":
    main()
