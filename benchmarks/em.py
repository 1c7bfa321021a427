"""EM-NeSy against backpropagation through the same engine: time per epoch, E-step, M-step, peak
memory, and test accuracy, side by side.

    .venv/bin/python benchmarks/em.py [--data-dir ../shared/data] [--train-size 3000] [--epochs 2]

Each row is one ``nesy train`` configuration (``--learner``, ``--engine``) run in its own
process (so its peak memory is its own: the peak RSS on CPU, the peak allocation on a GPU); the
times are those of its last epoch (the first also lowers the E-step's circuit). Ratios are over
backprop through the same engine where there is one (bp: belief propagation unrolled), else
through the circuit (exact), on the same task: soft EM with the exact engine takes the same step as
backpropagation (the same gradient), so the difference is the cost of the split; bp and abc
need no circuit in training at all (validation and test still score answers with it).
The shortest-path tasks (``--tasks "shortest-path 12x12"``) have no circuit: their rows are EM
with the sampling engines against blackbox differentiation of the solver, the gradient baseline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from tables import table

#: task name -> options of ``nesy train`` (MNIST addition unless ``task`` says)
TASKS = {
    "standard N=1": {"digits": 1},
    "standard N=2": {"digits": 2},
    "carry N=2": {"digits": 2, "encoding": "carry"},
    "carry N=4": {"digits": 4, "encoding": "carry"},
    "carry N=15": {"digits": 15, "encoding": "carry"},
    "visudo 4x4": {"task": "visudo", "dimension": 4},
    "visudo 9x9": {"task": "visudo", "dimension": 9},
    "shortest-path 12x12": {"task": "shortest-path", "size": 12},
    "shortest-path 30x30": {"task": "shortest-path", "size": 30},
}
#: (learner, engine) rows per task; an engine that does not serve a task is skipped
ROWS = [
    ("backprop", "exact"),
    ("backprop", "bp"),
    ("em", "exact"),
    ("em", "bp"),
    ("em", "abc"),
    ("em", "abc-nearest"),
]
#: the shortest-path task's rows: EM by sampling, and blackbox differentiation of the solver
#: (Vlastelica et al.; the gradient baseline, so the ratios are over it)
SHORTEST_PATH_ROWS = [("blackbox", "-"), ("em", "abc"), ("em", "abc-nearest")]
#: rows left out, and why
SKIP = {
    ("carry N=15", "em", "exact"): "conditioning on the whole sum grounds 2 x 10^15 rule bodies",
}


def one(options: dict) -> dict:
    """Run one configuration here; what the table needs from its metrics."""
    import torch

    torch.set_num_threads(options.pop("threads"))
    if options.get("task") == "shortest-path":
        return one_shortest_path(options)
    from nesy_models.experiment import RunConfig, run

    metrics = run(RunConfig(progress=False, **options))
    last = metrics["history"][-1]
    shares = [e["acceptance"] for e in metrics["history"] if "acceptance" in e]
    return {
        "e_step_ms": (
            None
            if last.get("e_step_seconds") is None
            else 1e3 * last["e_step_seconds"] / metrics["train_examples"]
        ),
        "acceptance": f"{shares[0]:.3f} -> {shares[-1]:.3f}" if shares else "-",
        "seconds": last["seconds"],
        "e_step": last.get("e_step_seconds"),
        "m_step": last.get("m_step_seconds"),
        "fallbacks": last.get("fallbacks"),
        "memory": metrics["peak_memory_mb"],
        "accuracy": metrics["test_accuracy"],
    }


def one_shortest_path(options: dict) -> dict:
    """:func:`one` for the shortest-path task (its own trainer; accuracy: the cost match)."""
    from nesy_models.experiment import peak_memory_mb
    from nesy_models.shortest_path.train import ShortestPathConfig, train_shortest_path

    train = options["train_size"]
    config = ShortestPathConfig(
        size=options["size"],
        maps=(train, 200, 200),
        learner=options["learner"],
        engine=options["engine"],
        samples=options["samples"],
        epochs=options["epochs"],
        batch_size=options["batch_size"],
        patience=options["epochs"],
        progress=False,
    )
    metrics, _ = train_shortest_path(config)
    last = metrics["history"][-1]
    shares = [e["acceptance"] for e in metrics["history"] if "acceptance" in e]
    return {
        "e_step_ms": 1e3 * last["e_step_seconds"] / train if "e_step_seconds" in last else None,
        "acceptance": f"{shares[0]:.4f} -> {shares[-1]:.4f}" if shares else "-",
        "seconds": last["seconds"],
        "e_step": last.get("e_step_seconds"),
        "m_step": None,
        "fallbacks": last.get("fallbacks"),
        "memory": peak_memory_mb(),
        "accuracy": metrics["test_cost_match"],
    }


def measure(options: dict) -> dict | None:
    """``one(options)`` in a fresh process; None (with its error) when it fails."""
    done = subprocess.run(
        [sys.executable, __file__, "--one", json.dumps(options)], capture_output=True, text=True
    )
    if done.returncode != 0:
        print(f"  {options}: {done.stderr.strip().splitlines()[-1]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="MNIST IDX files (default: the embedded digits)")
    parser.add_argument("--train-size", type=int, default=3000, help="training examples")
    parser.add_argument("--epochs", type=int, default=2, help="epochs (the last is timed)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--samples", type=int, default=1000, help="draws of abc")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--tasks", default=",".join(list(TASKS)[:4]), help="comma-separated task names"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(json.loads(args.one))))
        return
    from nesy_models.engines import supporting
    from nesy_models.experiment import RunConfig, make_task

    for name in args.tasks.split(","):
        if TASKS[name].get("task") == "shortest-path":
            from nesy_models.shortest_path.task import shortest_path_task

            task, rows_of_task = shortest_path_task(TASKS[name]["size"]), SHORTEST_PATH_ROWS
        else:
            task = make_task(RunConfig(**TASKS[name], learner="em", engine="abc"))
            rows_of_task = ROWS
        rows, backprops = [], {}
        for learner, engine in rows_of_task:
            through = learner in ("em", "backprop")
            if (through and engine not in supporting(task)) or (name, learner, engine) in SKIP:
                continue
            options = TASKS[name] | {
                "learner": learner,
                "engine": engine,
                "data_dir": args.data_dir,
                "train_size": args.train_size,
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "samples": args.samples,
                "patience": args.epochs,
                "threads": args.threads,
            }
            got = measure(options)
            if got is None:
                continue
            if learner in ("backprop", "blackbox"):
                backprops[engine] = got
            base = backprops.get(engine, backprops.get("exact", backprops.get("-")))
            ratio = f"{got['seconds'] / base['seconds']:.2f}x" if base else "-"
            memory = f"{got['memory'] / base['memory']:.2f}x" if base else "-"
            rows.append(
                [
                    f"{learner} / {engine}",
                    f"{got['seconds']:.2f}",
                    "-" if got["e_step"] is None else f"{got['e_step']:.2f}",
                    "-" if got["m_step"] is None else f"{got['m_step']:.2f}",
                    ratio,
                    f"{got['memory']:.0f}",
                    memory,
                    f"{got['accuracy']:.3f}",
                    "-" if got["fallbacks"] is None else str(got["fallbacks"]),
                    "-" if got["e_step_ms"] is None else f"{got['e_step_ms']:.2f}",
                    got["acceptance"],
                ]
            )
        header = ["learner / engine", "epoch s", "E-step s", "M-step s", "vs backprop"]
        header += ["peak MB", "vs backprop", "test acc", "fallbacks", "E-step ms / example"]
        header += ["accepted share (first -> last epoch)"]
        table(
            f"{name}: {args.train_size} training examples at most, batch"
            f" {args.batch_size}, last of {args.epochs} epochs",
            header,
            rows,
        )


if __name__ == "__main__":
    main()
