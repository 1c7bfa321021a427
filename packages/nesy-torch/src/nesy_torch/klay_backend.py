"""The ``klay`` entry of the ``nesy.backends`` group: the torch lowering through KLay
(``klaycircuits``) only, smoothing the circuit where KLay needs it; a clear error where KLay
cannot take a circuit. Loading it fails when klaycircuits is not installed, so that
``get_backend("klay")`` names what to install."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import klay  # noqa: F401  (fails here, at load time, when klaycircuits is missing)
import numpy as np
import torch

from nesy_ir.backends import evaluate_lowered
from nesy_ir.circuit import Circuit
from nesy_ir.labels import Labelling
from nesy_ir.layerize import Layered

from .lowered import LoweredCircuit
from .module import lower as _lower_torch

__all__ = ["evaluate_circuit", "lower", "name"]

name = "klay"


def lower(
    circuit: Circuit | Layered,
    labels: Labelling | Mapping | None = None,
    dynamic: Iterable[str] = (),
    **options: Any,
) -> LoweredCircuit:
    """:func:`nesy_torch.lower` with ``klay=True``."""
    return _lower_torch(circuit, labels, dynamic, klay=True, **options)


def evaluate_circuit(
    circuit: Circuit,
    labels: Labelling | Mapping | None = None,
    env: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """Every root's value by name, computed by KLay in float64 (NumPy out)."""
    with torch.no_grad():
        return evaluate_lowered(lower, circuit, labels, env)
