"""The ``torch`` entry of the ``nesy.backends`` group (see :mod:`nesy_ir.backends`):
``get_backend("torch")``, ``nesy wmc --backend torch``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from nesy_ir.backends import evaluate_lowered
from nesy_ir.circuit import Circuit
from nesy_ir.labels import Labelling

from .module import lower

__all__ = ["evaluate_circuit", "lower", "name"]

name = "torch"


def evaluate_circuit(
    circuit: Circuit,
    labels: Labelling | Mapping | None = None,
    env: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """Every root's value by name, computed in float64 by the torch lowering (NumPy out;
    Boolean roots as bools, like :func:`nesy_ir.evaluate_circuit`)."""
    with torch.no_grad():
        return evaluate_lowered(lower, circuit, labels, env)
