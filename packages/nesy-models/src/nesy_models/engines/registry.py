"""The inference engines of the E-step, by name; third parties plug in through entry points.

An engine is any function

    engine(task, probs, targets, *, samples, generator) -> Posterior

``probs`` (B, P, C): the network's distribution over each of the P symbols of a batch;
``targets`` (B, G): the observed answers, as target indices of the task's groups; ``samples``:
the sampling budget (an engine may ignore it); ``generator``: a ``torch.Generator`` for the
draws (or None). It returns a :class:`~nesy_models.engines.posterior.Posterior` and needs no
autograd from its caller. An engine may carry ``supports(task) -> bool``; without it, it claims
every task. Register one with :func:`register_engine`, or from a package through an entry point
of the group ``nesy.engines`` naming the function (``myengine = "mypkg.engines:myengine"``).

Nothing here imports torch: the built-in engines are named by ``module:function`` and imported
when first used, so the CLI and the option checks can list and check engines cheaply.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from .posterior import EngineError

ENTRY_POINT_GROUP = "nesy.engines"


@dataclass
class Entry:
    """A registered engine: the function (or ``module:function`` to import) and which tasks it
    serves (None: every task)."""

    target: Callable[..., Any] | str
    supports: Callable[[Any], bool] | None = None

    def load(self) -> Callable[..., Any]:
        if isinstance(self.target, str):
            module, name = self.target.split(":")
            self.target = getattr(importlib.import_module(module), name)
        return self.target


def _has(field: str) -> Callable[[Any], bool]:
    return lambda task: getattr(task, field, None) is not None


#: The built-in engines: what serves each, as data.
_ENGINES: dict[str, Entry] = {
    "exact": Entry("nesy_models.engines.exact:exact", _has("program")),
    "bp": Entry("nesy_models.engines.bp:belief_propagation", _has("factor_graph")),
    "abc": Entry("nesy_models.engines.abc:rejection", _has("symbolic")),
    "abc-nearest": Entry("nesy_models.engines.abc:nearest", _has("symbolic")),
}
_plugins_loaded = False


def register_engine(
    name: str, engine: Callable[..., Any], supports: Callable[[Any], bool] | None = None
) -> None:
    """Make ``engine`` the engine ``name`` (replacing any); ``supports`` (task -> bool), or the
    engine's own ``supports`` attribute, says which tasks it serves (default: all)."""
    if not callable(engine):
        raise EngineError(f"engine {name!r} must be a function, got {type(engine).__name__}")
    _ENGINES[name] = Entry(engine, supports or getattr(engine, "supports", None))


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _ENGINES:  # a built-in or registered engine keeps its name
            _ENGINES[ep.name] = Entry(ep.value)


def engine_names() -> tuple[str, ...]:
    """Every engine's name: built-in, registered, and from entry points."""
    _load_plugins()
    return tuple(_ENGINES)


def supporting(task: Any) -> tuple[str, ...]:
    """The names of the engines that serve ``task`` (from what they declare; a plugin that
    declares nothing is tried only when loaded)."""
    _load_plugins()
    return tuple(n for n, e in _ENGINES.items() if e.supports is None or e.supports(task))


def check_engine(name: str, task: Any | None = None) -> None:
    """An :class:`EngineError` unless ``name`` is an engine (and serves ``task``, if given)."""
    if name not in engine_names():
        raise EngineError(f"unknown engine {name!r} (known: {', '.join(engine_names())})")
    if task is not None and name not in supporting(task):
        raise EngineError(
            f"engine {name!r} does not support task {task.name}"
            f" (engines that do: {', '.join(supporting(task)) or 'none'})"
        )


def get_engine(name: str, task: Any | None = None) -> Callable[..., Any]:
    """The engine ``name`` (checked to serve ``task``, if given), imported on first use."""
    check_engine(name, task)
    entry = _ENGINES[name]
    engine = entry.load()
    if entry.supports is None and getattr(engine, "supports", None) is not None:
        entry.supports = engine.supports  # a plugin's declaration, known once loaded
        check_engine(name, task)
    return engine
