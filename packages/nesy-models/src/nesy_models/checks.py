"""Checks of what users give the training commands: option values, output paths, checkpoints.

The config dataclasses (``RunConfig``, ``TrainConfig``, the Vi-SATNet configs) validate every
option in ``__post_init__`` with these functions, and the commands build their configs and check
their output paths before any work starts: a bad value is one :class:`OptionError` naming the
option, never a crash deep inside torch or NumPy, nor an error after a whole training run.
Imports no torch (the CLI uses it while registering its commands).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterable
from numbers import Integral, Real
from pathlib import Path
from typing import TypeVar

from nesy_ir.errors import NesyError

from .options import DIFFERENTIABLE_ENGINES, EM_VARIANTS, LEARNERS, SCHEDULES

__all__ = [
    "CheckpointError",
    "engine_setup",
    "through_engine",
    "learner_options",
    "OptionError",
    "at_least",
    "between",
    "non_negative",
    "one_of",
    "positive",
    "read_checkpoint",
    "training_options",
    "writable",
    "write_atomically",
]

T = TypeVar("T")


class OptionError(NesyError):
    """An option (of a config or a command) with a value it cannot take."""


class CheckpointError(NesyError):
    """A file given as a checkpoint or saved model that is not one."""


def at_least(name: str, value: object, low: int) -> None:
    """``value`` is an integer of at least ``low`` (epochs, batch size, seed, ...)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise OptionError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise OptionError(f"{name} must be at least {low}, got {value!r}")


def positive(name: str, value: object) -> None:
    """``value`` is a finite number above 0 (a learning rate, ...)."""
    number = _float(value)
    if not (math.isfinite(number) and number > 0):
        raise OptionError(f"{name} must be a finite number above 0, got {value!r}")


def non_negative(name: str, value: object) -> None:
    """``value`` is a finite number of at least 0 (a weight decay, ...)."""
    number = _float(value)
    if not (math.isfinite(number) and number >= 0):
        raise OptionError(f"{name} must be a finite number of at least 0, got {value!r}")


def between(name: str, value: object, low: float, high: float, low_open: bool = False) -> None:
    """``value`` is a number in [low, high] (in (low, high] when ``low_open``)."""
    number = _float(value)
    if not ((low < number if low_open else low <= number) and number <= high):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise OptionError(f"{name} must be a number in {interval}, got {value!r}")


def one_of(name: str, value: object, choices: Iterable[object]) -> None:
    """``value`` is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise OptionError(f"unknown {name} {value!r} (known: {', '.join(map(str, choices))})")


def training_options(config: object) -> None:
    """The options ``RunConfig`` and ``TrainConfig`` share: epochs, batch_size, lr, schedule,
    augment, patience, seed and cluster_init."""
    at_least("epochs", config.epochs, 1)  # type: ignore[attr-defined]
    at_least("batch_size", config.batch_size, 1)  # type: ignore[attr-defined]
    positive("lr", config.lr)  # type: ignore[attr-defined]
    one_of("learning-rate schedule", config.schedule, SCHEDULES)  # type: ignore[attr-defined]
    at_least("augment", config.augment, 0)  # type: ignore[attr-defined]
    at_least("patience", config.patience, 1)  # type: ignore[attr-defined]
    at_least("seed", config.seed, 0)  # type: ignore[attr-defined]
    at_least("cluster_init", config.cluster_init, 0)  # type: ignore[attr-defined]


def learner_options(config: object) -> None:
    """The learner options ``RunConfig`` and ``TrainConfig`` share: learner, engine, em,
    samples and m_steps (an unknown engine lists the registered ones)."""
    from .engines import EngineError, check_engine

    one_of("learner", config.learner, LEARNERS)  # type: ignore[attr-defined]
    try:
        check_engine(config.engine)  # type: ignore[attr-defined]
    except EngineError as e:
        raise OptionError(str(e)) from None
    one_of("em variant", config.em, EM_VARIANTS)  # type: ignore[attr-defined]
    at_least("samples", config.samples, 1)  # type: ignore[attr-defined]
    at_least("m_steps", config.m_steps, 1)  # type: ignore[attr-defined]
    if config.learner == "backprop" and config.engine not in DIFFERENTIABLE_ENGINES:  # type: ignore[attr-defined]
        raise OptionError(
            f"the backprop learner needs a differentiable engine"
            f" ({', '.join(DIFFERENTIABLE_ENGINES)}), not {config.engine!r}: use --learner em"  # type: ignore[attr-defined]
        )


def through_engine(learner: str, engine: str) -> bool:
    """Whether the learner trains through an inference engine rather than the model's own loss:
    EM, or backprop through an engine other than the circuit."""
    return learner == "em" or engine != "exact"


def engine_setup(
    learner: str,
    engine: str,
    semantics: str,
    logic: str,
    task: object,
    backend: str = "torch",
) -> None:
    """The learner and engine fit the model: a task without a circuit (``program`` None)
    trains by EM on torch; a learner that trains through an engine (EM, or backprop through an
    engine other than the model's circuit) needs probabilistic logic in the architecture, an
    engine that serves ``task`` (or a function making it) and torch for backprop through belief
    propagation."""
    from .engines import EngineError, check_engine

    task = task() if callable(task) else task
    if getattr(task, "program", "") is None:  # no circuit: EM with an engine is the only way
        if learner != "em" or backend != "torch":
            raise OptionError(
                f"task {task.name} has no circuit (its program does not compile): train it by"
                " EM on torch with an engine that needs none (--learner em --engine"
                " abc-nearest, abc or bp)"
            )
    if not through_engine(learner, engine):
        return
    what = "the em learner" if learner == "em" else f"backprop through the {engine} engine"
    if semantics != "prob" or logic != "architecture":
        raise OptionError(
            f"{what} trains probabilistic logic in the architecture (--semantics prob --logic"
            f" architecture), not {semantics} logic in the {logic}"
        )
    if learner == "backprop" and backend != "torch":
        raise OptionError(f"{what} runs on the torch backend, not {backend}: use --learner em")
    try:
        check_engine(engine, task)
    except EngineError as e:
        raise OptionError(str(e)) from None


def _float(value: object) -> float:
    """``value`` as a float; NaN (failing every check) when it is not a number."""
    return float(value) if isinstance(value, Real) and not isinstance(value, bool) else math.nan


def writable(path: str | os.PathLike, name: str = "output") -> None:
    """``path`` can be written: its folder is made if missing and a file can be created in it,
    and an existing ``path`` is a file that opens for writing. Checked before a long run, which
    would otherwise fail only at its end; the file itself is not touched."""
    path = Path(path)
    if path.is_dir():
        raise OptionError(f"{name} {path} is a folder, not a file")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        blocker = next((p for p in [folder, *folder.parents] if p.exists()), folder)
        why = f"{blocker} is not a folder" if not blocker.is_dir() else e.strerror or str(e)
        raise OptionError(f"{name} {path} cannot be written: {why}") from None
    try:
        if path.exists():
            open(path, "ab").close()  # appends nothing
        else:
            tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        raise OptionError(f"{name} {path} cannot be written: {e.strerror or e}") from None


def write_atomically(path: str | os.PathLike, write: Callable[[Path], object]) -> None:
    """Write ``path`` by ``write(temporary path)`` and a rename, its folder made if missing: a
    crash keeps any earlier file whole and leaves no temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_checkpoint(path: str | os.PathLike, load: Callable[[Path], T], what: str) -> T:
    """``load(path)``, for a file that should be ``what`` (e.g. 'a nesy checkpoint'). A file that
    does not load (text, another format, truncated) is a :class:`CheckpointError` saying what it
    is not; the file itself is left as it is. ``OSError`` (unreadable) passes through."""
    path = Path(path)
    try:
        return load(path)
    except OSError:
        raise
    except Exception as e:  # unpickling arbitrary bytes can raise almost anything
        why = (str(e).strip().splitlines() or [""])[0][:200]  # torch's can be a page long
        raise CheckpointError(f"{path} is not {what}: {type(e).__name__}: {why}") from None
