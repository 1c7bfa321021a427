"""Training: a learner's steps with AdamW, early stopping on validation loss, seeds, progress,
checkpoints.

The learner (``config.learner``) says what one batch's step is: ``backprop`` (the NLL through
the circuit, :mod:`.backprop`) or ``em`` (E-step by an engine, M-step through the network only,
:mod:`.em`); the loop around it is the same.

The learning rate is constant, or follows a cosine from ``lr`` to 0 over the run's steps
(``schedule="cosine"``; a function of the step alone, so a resumed run follows it exactly).
With ``cluster_init`` > 0 the digit network is first fitted, for that many epochs, to k-means
clusters of the training images (:mod:`.clusters`: for tasks blind to the digits' names).

A run is deterministic given its seed: the batches of epoch e come from a generator seeded with
(seed, e), and a checkpoint (written atomically after every epoch) holds the model, the
optimiser, the RNG state and the history, so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from nesy_ir.errors import NesyError

from ..checks import (
    CheckpointError,
    engine_setup,
    learner_options,
    non_negative,
    read_checkpoint,
    through_engine,
    training_options,
    write_atomically,
)
from ..data import IndexedExamples, epoch_batches, random_shifts, shift_images
from ..models import TaskModel
from ..options import SCHEDULES
from ..tasks import Group, Task
from .backprop import Backprop
from .clusters import cluster_ids, fit_to_clusters
from .em import EM


@dataclass
class Split:
    """A task's examples (images in the order of its terms) and their targets (E, G) int64,
    each group's true value index."""

    examples: IndexedExamples
    targets: np.ndarray

    @classmethod
    def of(cls, task: Task, groups: tuple[Group, ...], data: IndexedExamples) -> Split:
        return cls(task.examples(data), task.target_indices(groups, data))

    def __len__(self) -> int:
        return len(self.targets)

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(self.examples.gather(rows)), torch.from_numpy(self.targets[rows])


@dataclass
class TrainConfig:
    epochs: int = 1
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-2
    patience: int = 5
    schedule: str = "constant"
    augment: int = 0  # shift training images randomly by up to this many pixels
    seed: int = 0
    checkpoint: Path | None = None
    progress: bool = True
    learner: str = "backprop"
    engine: str = "exact"  # what computes the posterior (em) or the likelihood (backprop)
    em: str = "soft"  # what EM's M-step fits
    samples: int = 1000  # draws of a sampling engine (abc)
    m_steps: int = 1  # M-step updates per E-step
    cluster_init: int = 0  # epochs of fitting the digit network to image clusters first

    def __post_init__(self) -> None:
        """Every option is checked here, once: a bad one is an OptionError naming it."""
        training_options(self)
        learner_options(self)
        non_negative("weight_decay", self.weight_decay)


#: How each learner is made from the training options.
LEARNERS = {
    "backprop": lambda config: Backprop(config.engine),
    "em": lambda config: EM(config.engine, config.em, config.samples, config.m_steps, config.seed),
}


def make_learner(config: TrainConfig, model: TaskModel, backend: str = "torch"):
    """The learner of ``config`` for ``model`` on ``backend`` (a set-up that
    :func:`~nesy_models.checks.engine_setup` refuses is an OptionError)."""
    if through_engine(config.learner, config.engine):  # a plain model needs no engine set-up
        engine_setup(
            config.learner, config.engine, model.semantics, model.logic, model.task, backend
        )
    return LEARNERS[config.learner](config)


def learning_rate(config: TrainConfig, step, steps_per_epoch: int, xp=np):
    """The learning rate of global step ``step`` (0-based) under ``config.schedule``; ``xp``
    the array module (``jax.numpy`` for a traced step)."""
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "cosine":
        total = max(config.epochs * steps_per_epoch, 1)
        return config.lr * 0.5 * (1.0 + xp.cos(xp.pi * xp.minimum(step, total) / total))
    raise NesyError(f"unknown learning-rate schedule {config.schedule!r} (known: {SCHEDULES})")


def shifted_images(
    images: np.ndarray,
    config: TrainConfig,
    epoch: int,
    step: int,
    batch: int | None = None,
    part: slice = slice(None),
) -> np.ndarray:
    """Training images (n, P, H, W) shifted by up to ``config.augment`` pixels; the shifts are
    drawn for the whole batch of ``batch`` examples from (seed, epoch, step), and ``part`` says
    which of its examples these are (a data-parallel share)."""
    shape = (batch or len(images), *images.shape[1:-2])
    shifts = random_shifts([config.seed, epoch, step], shape, config.augment)[part]
    return shift_images(images, shifts)


@dataclass
class History:
    """Per-epoch records and the best validation loss so far (1 - accuracy for a model
    without a circuit)."""

    epochs: list[dict] = field(default_factory=list)
    best_loss: float = float("inf")
    best_epoch: int = -1

    @property
    def stale(self) -> int:
        """Epochs since the best validation loss."""
        return len(self.epochs) - 1 - self.best_epoch


@torch.no_grad()
def evaluate(model: TaskModel, split: Split, batch_size: int = 256) -> dict[str, float]:
    """Mean loss, accuracy (every group right) and inference milliseconds per example; for a
    yes/no task (one group of two values, e.g. Sudoku validity) also the average precision and
    the area under the ROC curve."""
    model.eval()
    losses, correct, seconds, positive = [], 0, 0.0, []
    for start in range(0, len(split), batch_size):
        images, targets = split.batch(np.arange(start, min(start + batch_size, len(split))))
        began = time.perf_counter()
        out = model(images)
        predicted = model.predict(out)
        seconds += time.perf_counter() - began
        losses.append(float(model.loss(out, targets)) * len(images))
        correct += int((predicted == targets).all(1).sum())
        positive.append(model.probabilities(out)[:, -1])
    n = max(len(split), 1)
    result = {"loss": sum(losses) / n, "accuracy": correct / n, "ms_per_example": 1e3 * seconds / n}
    if model.group_sizes == [2] and len(split):
        labels, scores = split.targets[:, 0], torch.cat(positive).numpy()
        result["average_precision"] = average_precision(labels, scores)
        result["auroc"] = auroc(labels, scores)
    return result


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve (step-wise, as scikit-learn computes it)."""
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(labels, scores)) if labels.any() else 0.0


def auroc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (None when only one class is present)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if 0 < labels.mean() < 1 else None


def world() -> tuple[int, int]:
    """(rank, number of processes) of data-parallel training; (0, 1) when not distributed."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def fit(model: TaskModel, train: Split, val: Split, config: TrainConfig) -> History:
    """Train ``model`` in place; at the end it holds the weights of the best validation loss.

    Under torch.distributed (``nesy train --nproc K``) each process computes the gradient of its
    share of every global batch and DDP averages them: the same step as one process with the
    whole batch (exactly so when K divides the batch size). Rank 0 writes the checkpoint.
    """
    torch.manual_seed(config.seed)
    rank, size = world()
    net = torch.nn.parallel.DistributedDataParallel(model) if size > 1 else model
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    learner = make_learner(config, model)
    history, best_state = History(), None
    if config.checkpoint is not None and Path(config.checkpoint).exists():
        history, best_state = _resume(config.checkpoint, model, optimiser)
    elif config.cluster_init:
        start_from_clusters(model, train, config)
    while len(history.epochs) < config.epochs and history.stale < config.patience:
        epoch = len(history.epochs)
        model.train()
        began, total, parts = time.perf_counter(), 0.0, {}
        batches = epoch_batches(len(train), config.batch_size, config.seed, epoch)
        quiet = not (config.progress and rank == 0)
        for i, rows in enumerate(tqdm(batches, f"epoch {epoch + 1}", disable=quiet, leave=False)):
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(config, epoch * len(batches) + i, len(batches))
            images, targets = train.batch(rows[rank::size])
            if config.augment:
                part = shifted_images(
                    images.numpy(), config, epoch, i, len(rows), slice(rank, None, size)
                )
                images = torch.from_numpy(part)
            done = learner.step(model, net, images, targets, optimiser, epoch * len(batches) + i)
            if not np.isfinite(done["loss"]):
                raise NesyError(f"epoch {epoch + 1}: the loss became {done['loss']}")
            total += done["loss"] * len(rows)
            for key in ("e_step_seconds", "m_step_seconds", "fallbacks", "accepted"):
                if key in done:
                    parts[key] = parts.get(key, 0) + done[key]
        if "accepted" in parts:  # a sampling engine's share of draws kept, over the epoch
            parts["acceptance"] = parts.pop("accepted") / len(train)
        seconds = time.perf_counter() - began
        scores = evaluate(model, val)
        history.epochs.append(
            {"epoch": epoch + 1, "train_loss": total / len(train), "seconds": seconds}
            | parts
            | {f"val_{k}": v for k, v in scores.items()}
        )
        # a model without a circuit scores answers by sampling: its loss stays infinite-like
        # until some draw reproduces each answer, so it is chosen by accuracy instead
        criterion = 1.0 - scores["accuracy"] if model.compiled is None else scores["loss"]
        if criterion < history.best_loss:
            history.best_loss, history.best_epoch = criterion, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if config.checkpoint is not None and rank == 0:
            _save(config.checkpoint, model, optimiser, history, best_state)
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def start_from_clusters(model: TaskModel, train: Split, config: TrainConfig) -> None:
    """Fit the digit network to k-means clusters of the training images first
    (:mod:`.clusters`): a start that breaks the symmetry of tasks blind to the digits' names."""
    examples = train.examples
    images = examples.images[np.unique(examples.index)]
    clusters = cluster_ids(images, len(model.task.classes), config.seed)
    fit_to_clusters(model.net, images, clusters, config.cluster_init, seed=config.seed)


def _save(path: Path, model, optimiser, history: History, best_state) -> None:
    """Write the checkpoint atomically: a crash mid-write keeps the previous one."""
    state = {
        "model": model.state_dict(),
        "optimiser": optimiser.state_dict(),
        "history": asdict(history),
        "best_state": best_state,
        "rng": torch.get_rng_state(),
        "centre_images": _centred(model),
    }
    write_atomically(path, lambda tmp: torch.save(state, tmp))


def _centred(model) -> bool | None:
    """Whether the model's perception network maps its images to [-1, 1] (None: no LeNet)."""
    return getattr(getattr(model, "net", None), "centre", None)


def _resume(path: Path, model, optimiser) -> tuple[History, dict | None]:
    """Restore the model, optimiser and RNG from the checkpoint ``path``: (history, best
    weights). A file that is not a checkpoint, or one of another model, is a NesyError; the file
    is left as it is."""
    state = read_checkpoint(path, _load, "a nesy checkpoint")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} is not a nesy checkpoint: it holds a {type(state).__name__}")
    centred = _centred(model)
    saved = state.get("centre_images", False)  # checkpoints from before the option: [0, 1]
    if centred is not None and saved is not None and saved != centred:
        scale = {True: ("[-1, 1]", "--centre-images"), False: ("[0, 1]", "--no-centre-images")}
        raise NesyError(
            f"cannot resume from checkpoint {path}: its network was trained on images in"
            f" {scale[saved][0]}, this one takes {scale[centred][0]}: resume with {scale[saved][1]}"
        )
    try:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        torch.set_rng_state(state["rng"])
        return History(**state["history"]), state["best_state"]
    except (RuntimeError, KeyError, TypeError, ValueError) as e:
        what = f"it has no {e}" if isinstance(e, KeyError) else str(e)
        hint = ""
        if isinstance(e, RuntimeError):  # another circuit's buffers: another task or compiler
            hint = (
                " (resume with the options it was trained with: task, digits, encoding, compiler)"
            )
        raise NesyError(f"cannot resume from checkpoint {path}: {what}{hint}") from None


def _load(path: Path):
    return torch.load(path, weights_only=False)
