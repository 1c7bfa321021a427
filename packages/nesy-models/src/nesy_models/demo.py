"""``nesy demo mnist-addition``: the README's main job, two-digit MNIST addition end to end.

Compiles the program (circuit sizes before and after rewriting), trains LeNet through the circuit
on the embedded digits (or MNIST with ``--data-dir``), prints the test accuracy and one
explanation (the most probable digits behind a predicted sum), and saves the training curve.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .options import DATA_DIR_HELP

if TYPE_CHECKING:  # torch and the rest are imported when the demo runs, not when registered
    from .experiment import RunConfig
    from .models import TaskModel
    from .tasks import Task


def explain(digits: np.ndarray, total: int, n: int) -> tuple[tuple[int, ...], float]:
    """The most probable digits (a0..a(n-1), b0..b(n-1)) whose numbers add up to ``total``, and
    their probability given the network's digit distributions ``digits`` (2n, 10)."""
    best, best_p = (), 0.0
    for first in itertools.product(range(10), repeat=n):
        a = int("".join(map(str, first)))
        b = total - a
        if not 0 <= b < 10**n:
            continue
        second = tuple(int(c) for c in f"{b:0{n}d}")
        p = float(np.prod(digits[np.arange(2 * n), np.array(first + second)]))
        if p > best_p:
            best, best_p = first + second, p
    return best, best_p


def demo_splits(config: RunConfig, task: Task, model: TaskModel, pairings: int):
    """Train, validation and test splits; the training images paired ``pairings`` times at
    random (the embedded digits are few: 1294 training images make 323 two-digit examples)."""
    from .data import IndexedExamples, addition_dataset, holdout, load_mnist
    from .learners import Split

    train_images, test_images = load_mnist(config.data_dir), load_mnist(config.data_dir, "test")
    kept, held = holdout(len(train_images.images), 0.1, config.seed)
    parts = [
        Split.of(task, model.groups, addition_dataset(train_images, config.digits, seed, kept))
        for seed in range(config.seed, config.seed + pairings)
    ]
    train = Split(
        IndexedExamples(train_images.images, np.concatenate([p.examples.index for p in parts])),
        np.concatenate([p.targets for p in parts]),
    )
    val, test = (
        Split.of(task, model.groups, addition_dataset(images, config.digits, config.seed, rows))
        for images, rows in ((train_images, held), (test_images, None))
    )
    return train, val, test, train_images.source


def plot_curve(history: list[dict], path: Path) -> None:
    from .figures import pyplot, save_figure

    plt = pyplot()

    epochs = [e["epoch"] for e in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, [e["train_loss"] for e in history], marker="o", label="train loss")
    ax.plot(epochs, [e["val_loss"] for e in history], marker="o", label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("negative log-likelihood")
    twin = ax.twinx()
    twin.plot(epochs, [e["val_accuracy"] for e in history], "g--", label="validation accuracy")
    twin.set_ylabel("validation accuracy")
    twin.set_ylim(0, 1)
    fig.legend(loc="upper center", ncol=3, fontsize=8)
    save_figure(fig, path)


def compiled_text(stats: dict) -> str:
    """How the program was compiled, from a compiled program's ``stats``: by grounding, then
    counting queries from their assignments or by knowledge compilation (the formula, the SDD),
    or by the linear-sum compiler."""
    circuit = (
        f"circuit {stats['circuit_nodes']} nodes / {stats['circuit_edges']} edges, depth"
        f" {stats['circuit_depth']}"
    )
    if stats.get("compiler") == "linear-sum":
        return f"compiled by the linear-sum compiler in {stats['compile_s']:.2f} s: {circuit}"
    how = []
    if stats.get("direct_queries"):
        how.append(f"{stats['direct_queries']} queries counted from their assignments")
    if stats["logic_nodes"]:
        how.append(
            f"logic formula {stats['logic_nodes']} nodes / {stats['logic_edges']} edges,"
            f" SDD size {stats['sdd_size']}"
        )
    return f"compiled in {stats['compile_s']:.1f} s: {', '.join(how)}, after rewriting {circuit}"


def run_demo(args: argparse.Namespace) -> int:
    import torch

    from .experiment import RunConfig, make_task
    from .learners import TrainConfig, evaluate, fit
    from .models import TaskModel

    config = RunConfig(
        digits=args.digits, data_dir=args.data_dir, epochs=args.epochs, seed=args.seed
    )
    torch.manual_seed(config.seed)
    task = make_task(config)
    model = TaskModel(task)
    print(f"MNIST addition, {config.digits}-digit numbers, probabilistic logic in the architecture")
    print(f"  {compiled_text(model.compiled.stats)}")
    train, val, test, source = demo_splits(config, task, model, args.pairings)
    print(
        f"  data ({source} digits): {len(train)} training examples"
        f" ({args.pairings} pairings of the images), {len(val)} validation, {len(test)} test"
    )
    settings = TrainConfig(epochs=config.epochs, seed=config.seed, lr=args.lr, progress=False)
    history = fit(model, train, val, settings)
    for e in history.epochs:
        print(
            f"  epoch {e['epoch']}: train loss {e['train_loss']:.3f}, validation accuracy"
            f" {e['val_accuracy']:.3f} ({e['seconds']:.1f} s)"
        )
    scores = evaluate(model, test)
    print(f"Test accuracy (the whole sum right): {scores['accuracy']:.3f}")
    images, targets = test.batch(np.arange(1))
    model.eval()
    with torch.no_grad():
        out = model(images)
    group = model.groups[0]
    predicted = group.values[int(model.predict(out)[0, 0])]
    digits, p = explain(out.digits[0].numpy(), predicted, config.digits)
    n = config.digits
    a, b = "".join(map(str, digits[:n])), "".join(map(str, digits[n:]))
    print(
        f"Explanation of test example 0: predicted sum {predicted} (true"
        f" {group.values[int(targets[0, 0])]}); most probable digits {a} + {b}"
        f" (probability {p:.3f})"
    )
    plot_curve(history.epochs, Path(args.plot))
    print(f"Training curve saved to {args.plot}")
    return 0


def register(demos: argparse._SubParsersAction) -> None:
    demo = demos.add_parser(
        "mnist-addition",
        help="two-digit MNIST addition, trained end to end",
        description="MNIST addition (DeepProbLog's benchmark, as in the DeepLog paper): compile"
        " the program, train LeNet through its circuit, test, explain one prediction.",
    )
    demo.add_argument("--digits", type=int, default=2, help="digits per number (N)")
    demo.add_argument("--epochs", type=int, default=5, help="training epochs")
    demo.add_argument("--pairings", type=int, default=10, help="random pairings of the images")
    demo.add_argument("--lr", type=float, default=3e-3, help="learning rate")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    demo.add_argument("--data-dir", help=DATA_DIR_HELP)
    demo.add_argument(
        "--plot", default="out/demo_training_curve.png", help="the training curve's PNG"
    )
    demo.set_defaults(run=run_demo)
