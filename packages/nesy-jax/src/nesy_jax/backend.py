"""nesy-jax as a ``nesy.backends`` entry point: ``get_backend("jax")``, ``nesy wmc --backend jax``.

:func:`evaluate_circuit` computes in float64 (whatever the global x64 setting) and returns NumPy
arrays shaped like the reference's: (B,) where a label is batched, else scalars, and Booleans
where a root's structure is Boolean.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import numpy as np

from nesy_ir.circuit import Circuit
from nesy_ir.labels import Labelling
from nesy_ir.layerize import layerize
from nesy_ir.registry import get_algebra

from .lowering import lower

name = "jax"


def evaluate_circuit(
    circuit: Circuit, labels: Labelling | Mapping | None = None
) -> dict[str, np.ndarray]:
    """The value of every root by name, like :func:`nesy_ir.evaluate_circuit`, on JAX.

    Batched labels (arrays with a batch axis) become the lowered circuit's dynamic labels; the
    others (scalars, a :class:`~nesy_ir.labels.Labelling`) are folded in as constants.
    """
    batched = {
        k: v for k, v in (labels.items() if isinstance(labels, Mapping) else ()) if np.ndim(v) > 0
    }
    static = (
        {k: v for k, v in labels.items() if k not in batched}
        if isinstance(labels, Mapping)
        else labels
    )
    layered = layerize(circuit)
    with jax.enable_x64(True):
        lowered = lower(layered, static, dynamic=batched, dtype=np.float64, jit=False)
        out = lowered({k: np.asarray(v, dtype=float) for k, v in batched.items()})
        result = {k: np.asarray(v) for k, v in out.items()}
    for root, gid in zip(layered.names, layered.roots.tolist(), strict=True):
        if get_algebra(layered.structure_of(gid)).carrier.boolean:
            result[root] = result[root].astype(bool)
    return result


__all__ = ["evaluate_circuit", "lower", "name"]
