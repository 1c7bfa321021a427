"""One-argument backend choice: ``get_backend("torch" | "jax" | "numpy" | ...)``.

A backend is an object (usually a module) with two functions:

- ``evaluate_circuit(circuit, labels=None) -> {root name: numpy array}``: one evaluation, for
  ``nesy wmc --backend`` and the conformance tests;
- ``lower(circuit, labels=None, dynamic=(), **options)``: the circuit as a callable that maps
  ``{dynamic key: array (B,) or scalar}`` to ``{root name: array}`` in the backend's own array
  type (a ``torch.nn.Module``, a jitted JAX function, ...). ``labels`` label every other atom.

'numpy' is nesy-ir's reference; the others are entry points of the ``nesy.backends`` group, so a
new backend is a package that declares one. A missing backend's error names what to install.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from types import SimpleNamespace
from typing import Any

import numpy as np

from .circuit import Circuit
from .errors import NesyError
from .evaluate import as_labelling, evaluate_circuit
from .labels import Labelling
from .layerize import evaluate_layered, layerize

#: The package that provides a backend we know of (others: ``nesy-NAME``).
BACKEND_EXTRAS = {"torch": "nesy-torch", "jax": "nesy-jax", "klay": "nesy-torch[klay]"}


def _lower_numpy(
    circuit: Circuit, labels: Labelling | Mapping | None = None, dynamic: Iterable[str] = ()
) -> Callable[[Mapping[str, Any]], dict[str, np.ndarray]]:
    """The reference as a lowered callable (layered evaluation, for parity with the others)."""
    layered, labelling = layerize(circuit), as_labelling(labels)
    keys = set(dynamic)

    def run(values: Mapping[str, Any]) -> dict[str, np.ndarray]:
        missing = keys - set(values)
        if missing:
            raise NesyError(f"no value for the dynamic labels {sorted(missing)}")
        return evaluate_layered(layered, labelling.with_values(values))

    return run


NUMPY = SimpleNamespace(name="numpy", evaluate_circuit=evaluate_circuit, lower=_lower_numpy)


def backends() -> list[str]:
    """The backends available here: 'numpy' and the ``nesy.backends`` entry points."""
    return ["numpy", *sorted(ep.name for ep in entry_points(group="nesy.backends"))]


def get_backend(name: str) -> Any:
    """The backend called ``name``; a NesyError naming the package to install if it is missing."""
    if name == "numpy":
        return NUMPY
    hint = f"backend {name!r} needs: pip install {BACKEND_EXTRAS.get(name, f'nesy-{name}')}"
    found = [ep for ep in entry_points(group="nesy.backends") if ep.name == name]
    if not found:
        raise NesyError(f"{hint} (available here: {', '.join(backends())})")
    try:
        return found[0].load()
    except ImportError as e:
        raise NesyError(f"{hint} ({e})") from None
