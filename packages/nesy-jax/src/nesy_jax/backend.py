"""nesy-jax as a ``nesy.backends`` entry point: ``get_backend("jax")``, ``nesy wmc --backend jax``.

:func:`evaluate_circuit` computes in float64 (whatever the global x64 setting) and returns NumPy
arrays shaped like the reference's: (B,) where a label is batched, else scalars, and Booleans
where a root's structure is Boolean.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import jax
import numpy as np

from nesy_ir.backends import evaluate_lowered
from nesy_ir.circuit import Circuit
from nesy_ir.labels import Labelling

from .lowering import lower

__all__ = ["evaluate_circuit", "lower", "name"]

name = "jax"


def evaluate_circuit(
    circuit: Circuit,
    labels: Labelling | Mapping | None = None,
    env: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """The value of every root by name, like :func:`nesy_ir.evaluate_circuit`, on JAX."""
    with jax.enable_x64(True):
        return evaluate_lowered(partial(lower, jit=False), circuit, labels, env)
