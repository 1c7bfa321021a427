"""The ``torch`` and ``klay`` entries of the ``nesy.backends`` group (see
:mod:`nesy_ir.backends`): this module is the generic torch backend, :data:`KLAY` the one that
forces the KLay path (a NesyError where it does not apply)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from nesy_ir.circuit import Circuit
from nesy_ir.evaluate import as_labelling
from nesy_ir.labels import Labelling, slot_key
from nesy_ir.layerize import Layered, layerize
from nesy_ir.nodes import Kind
from nesy_ir.registry import get_algebra

from .module import lower

__all__ = ["KLAY", "evaluate_circuit", "lower"]


def batched_labels(layered: Layered, labelling: Labelling) -> dict[str, np.ndarray]:
    """The labels of the atom leaves that are batched, by their own key (``a[false]`` included,
    already negated), so that they can be passed as dynamic labels."""
    out = {}
    for node in layered.leaves:
        if node.kind is not Kind.ATOM:
            continue
        a = node.arg
        if node.structure == "bool" and isinstance(a.rvar, bool):
            continue
        value = labelling.label(node)
        if value.ndim:
            out[slot_key(a.predicate, a.args, a.rvar if isinstance(a.rvar, bool) else None)] = value
    return out


def evaluate_circuit(
    circuit: Circuit, labels: Labelling | Mapping | None = None, *, klay: bool | None = False
) -> dict[str, np.ndarray]:
    """Every root's value by name, computed in float64 by the torch lowering (NumPy out;
    Boolean roots as bools, like :func:`nesy_ir.evaluate_circuit`)."""
    layered = layerize(circuit)
    labelling = as_labelling(labels)
    batched = batched_labels(layered, labelling)
    module = lower(layered, labelling, tuple(batched), dtype=torch.float64, klay=klay)
    with torch.no_grad():
        out = module({k: torch.as_tensor(np.asarray(v, dtype=float)) for k, v in batched.items()})
    result = {}
    for name, gid in zip(layered.names, layered.roots.tolist(), strict=True):
        value = out[name].numpy()
        if get_algebra(layered.structure_of(gid)).carrier.boolean:
            value = value.astype(bool)
        result[name] = value
    return result


def _lower_klay(
    circuit: Circuit,
    labels: Labelling | Mapping | None = None,
    dynamic: Iterable[str] = (),
    **options: Any,
):
    return lower(circuit, labels, dynamic, klay=True, **options)


KLAY = SimpleNamespace(
    name="klay", evaluate_circuit=partial(evaluate_circuit, klay=True), lower=_lower_klay
)
