"""Inference engines for the E-step: the posterior over a task's neural symbols given its
observed answer, from the network's distribution over them.

- ``exact``: the compiled circuit (the gradient of log P(y|x) with respect to the log labels of
  the neural atoms is their posterior: Fisher's identity);
- ``bp``: sum-product belief propagation on the task's factor graph (exact on a tree);
- ``abc``: rejection sampling with the task's symbolic part as a plain function.

Engines are registered by name (:mod:`.registry`): :func:`register_engine` or the ``nesy.engines``
entry-point group add one. Importing this package imports no torch.
"""

from .posterior import EngineError, Posterior
from .registry import (
    ENTRY_POINT_GROUP,
    check_engine,
    engine_names,
    get_engine,
    register_engine,
    supporting,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "EngineError",
    "Posterior",
    "check_engine",
    "engine_names",
    "get_engine",
    "register_engine",
    "supporting",
]
