"""One experiment of the DeepLog paper section 7: a task, a semantics, a logic placement, a seed.

:func:`run` builds the data and the model, trains, tests, and returns the metrics that
``nesy train ... --json`` writes.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from nesy_ir.errors import NesyError

from .checks import (
    OptionError,
    at_least,
    engine_setup,
    learner_options,
    non_negative,
    one_of,
    training_options,
    write_atomically,
)
from .data import DigitImages, IndexedExamples, addition_splits, load_mnist, sudoku_splits
from .data.visudo import visudo_splits
from .learners import Split, TrainConfig, evaluate, fit
from .models import TaskModel
from .options import BACKENDS, COMPILERS, FUZZY, LOGIC, SEMANTICS, TASKS
from .tasks import ENCODINGS, Task, mnist_addition, sudoku, visudo


@dataclass
class RunConfig:
    """Everything one run depends on (the CLI's options)."""

    task: str = "mnist-addition"
    digits: int = 1
    encoding: str = "standard"
    compiler: str = "auto"
    semantics: str = "prob"
    logic: str = "architecture"
    tnorm: str = "product"
    backend: str = "torch"
    data_dir: str | None = None
    epochs: int = 1
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-2
    centre_images: bool = True
    schedule: str = "constant"
    augment: int = 0
    patience: int = 5
    seed: int = 0
    train_size: int | None = None
    sudoku_examples: tuple[int, int, int] = (2000, 200, 1000)
    dimension: int = 4
    split: int = 0
    puzzles: int = 100
    checkpoint: str | None = None
    progress: bool = True
    learner: str = "backprop"
    engine: str = "exact"
    em: str = "soft"
    samples: int = 1000
    m_steps: int = 1
    cluster_init: int = 0

    def __post_init__(self) -> None:
        """Every option is checked here, once: a bad one is an OptionError naming it."""
        one_of("task", self.task, TASKS)
        at_least("digits", self.digits, 1)
        one_of("encoding", self.encoding, ENCODINGS)
        one_of("compiler", self.compiler, COMPILERS)
        one_of("semantics", self.semantics, SEMANTICS)
        one_of("logic", self.logic, LOGIC)
        one_of("tnorm", self.tnorm, FUZZY)
        one_of("backend", self.backend, BACKENDS)
        training_options(self)
        if self.cluster_init and self.backend != "torch":
            raise OptionError("cluster_init starts the torch network: use --backend torch")
        non_negative("weight_decay", self.weight_decay)
        if self.train_size is not None:
            at_least("train_size", self.train_size, 1)
        if len(self.sudoku_examples) != 3:
            raise OptionError(
                "sudoku_examples must be (train, validation, test) counts,"
                f" got {self.sudoku_examples!r}"
            )
        for part, count in zip(("train", "validation", "test"), self.sudoku_examples, strict=True):
            at_least(f"sudoku_examples ({part})", count, 1)
        if self.task == "visudo":
            one_of("dim", self.dimension, (4, 9))
            at_least("split", self.split, 0)
            at_least("puzzles", self.puzzles, 1)
        learner_options(self)
        engine_setup(
            self.learner,
            self.engine,
            self.semantics,
            self.logic,
            lambda: make_task(self),
            self.backend,
        )


def make_task(config: RunConfig) -> Task:
    """The task of ``config``; one object per task in a process, so that runs after the first
    (other seeds, other semantics) reuse its compiled circuits."""
    if config.task == "mnist-addition":
        return _task(config.task, config.digits, config.encoding, config.compiler)
    if config.task == "visudo":
        return _task(config.task, config.dimension)
    return _task(config.task)


@functools.cache
def _task(name: str, digits: int = 1, encoding: str = "standard", compiler: str = "auto") -> Task:
    """The task ``name``; ``digits``: N of MNIST addition, or the board size of visudo."""
    if name == "mnist-addition":
        return mnist_addition(digits, encoding, compiler)
    if name == "sudoku":
        return sudoku()
    if name == "visudo":
        return visudo(digits)
    raise NesyError(f"unknown task {name!r} (known: {', '.join(TASKS)})")


def make_splits(config: RunConfig, task: Task, model) -> tuple[Split, Split, Split, DigitImages]:
    """Train, validation and test splits of the task's data, and the test digits they were built
    from (their ``source``: 'mnist', or 'embedded' for scikit-learn's digits)."""
    train, test = load_mnist(config.data_dir, "train"), load_mnist(config.data_dir, "test")
    if config.task == "sudoku":
        data = sudoku_splits(train, test, *config.sudoku_examples, seed=config.seed)
    elif config.task == "visudo":
        data = visudo_splits(train, test, config.dimension, config.split, config.puzzles)
    else:
        data = addition_splits(train, test, config.digits, seed=config.seed)
    splits = [Split.of(task, model.groups, part) for part in data]
    if config.train_size is not None:
        kept = slice(0, config.train_size)
        examples = splits[0].examples
        splits[0] = Split(
            IndexedExamples(examples.images, examples.index[kept]), splits[0].targets[kept]
        )
    return splits[0], splits[1], splits[2], test


def run(config: RunConfig) -> dict:
    """Train and test one configuration; the metrics as a JSON-ready dict."""
    torch.manual_seed(config.seed)
    task = make_task(config)
    began = time.perf_counter()
    model_class = TaskModel
    if config.backend == "jax":
        from .models.jax_model import JaxTaskModel as model_class
    model = model_class(
        task, config.semantics, config.logic, config.tnorm, centre_images=config.centre_images
    )
    compile_seconds = time.perf_counter() - began
    train, val, test, test_digits = make_splits(config, task, model)
    checkpoint = Path(config.checkpoint) if config.checkpoint else None
    settings = TrainConfig(
        epochs=config.epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        weight_decay=config.weight_decay,
        schedule=config.schedule,
        augment=config.augment,
        patience=config.patience,
        seed=config.seed,
        checkpoint=checkpoint,
        progress=config.progress,
        learner=config.learner,
        engine=config.engine,
        em=config.em,
        samples=config.samples,
        m_steps=config.m_steps,
        cluster_init=config.cluster_init,
    )
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    began = time.perf_counter()
    if config.backend == "jax":
        from .learners.jax_training import evaluate_jax, fit_jax

        params, history = fit_jax(model, train, val, settings)
        train_seconds = time.perf_counter() - began
        scores = evaluate_jax(model, params, test)
        classify = functools.partial(model.classify, params)
    else:
        history = fit(model, train, val, settings)
        train_seconds = time.perf_counter() - began
        scores = evaluate(model, test)
        classify = model.classify
    ran = len(history.epochs)
    epoch_seconds = [e["seconds"] for e in history.epochs]
    return {
        **{k: v for k, v in asdict(config).items() if k not in ("progress", "sudoku_examples")},
        "epochs": ran,
        "data": test_digits.source,
        "train_examples": len(train),
        "test_accuracy": scores["accuracy"],
        "test_loss": scores["loss"],
        "test_average_precision": scores.get("average_precision"),
        "test_auroc": scores.get("auroc"),
        "test_digit_accuracy": (
            digit_accuracy(classify, test_digits) if config.task == "mnist-addition" else None
        ),
        "train_seconds": train_seconds,
        "seconds_per_epoch": float(np.mean(epoch_seconds)) if epoch_seconds else 0.0,
        "e_step_seconds": _per_epoch(history.epochs, "e_step_seconds"),
        "m_step_seconds": _per_epoch(history.epochs, "m_step_seconds"),
        "peak_memory_mb": peak_memory_mb(),
        "inference_ms_per_query": scores["ms_per_example"],
        "compile_seconds": compile_seconds,
        "circuit": (
            model.compiled.circuit.stats()
            if config.logic != "none" and model.compiled is not None
            else None
        ),
        "history": history.epochs,
    }


def _per_epoch(epochs: list[dict], key: str) -> float | None:
    """The mean over epochs of ``key`` (None when the learner does not record it)."""
    values = [e[key] for e in epochs if key in e]
    return float(np.mean(values)) if values else None


def peak_memory_mb() -> float:
    """The peak memory of this process so far, in MB: the GPU's allocations where training ran
    on one, else the peak resident set size."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def digit_accuracy(
    classify: Callable[[np.ndarray], np.ndarray], digits: DigitImages, batch_size: int = 1000
) -> float:
    """The share of ``digits`` that ``classify`` (images -> classes) gets right. On MNIST
    addition it is the per-digit accuracy behind the sums, measured on all 10000 test images: an
    N-digit sum needs its 2N digits right, so about ``accuracy ** (2 * N)`` of the sums are,
    with far less noise than the few test sums of a large N (50 for N = 100)."""
    right = 0
    for start in range(0, len(digits.labels), batch_size):
        rows = slice(start, start + batch_size)
        right += int((classify(digits.images[rows]) == digits.labels[rows]).sum())
    return right / max(len(digits.labels), 1)


def write_json(metrics: dict, path: str | os.PathLike) -> None:
    """Write the metrics atomically (a crash keeps any earlier file whole, and leaves no
    temporary file). Check ``path`` with :func:`nesy_models.checks.writable` before a long run."""
    text = json.dumps(metrics, indent=2, default=str) + "\n"
    write_atomically(path, lambda tmp: tmp.write_text(text))
