"""Which network output labels which neural atom: the backend-free half of neural labelling.

A neural predicate ``nn(net, [X], Y, [y1, ..., yn]) :: digit(X, Y)`` grounds to atoms
``digit(tensor(a0), y)``. The network of ``digit`` applied to the input tensor named ``a0`` gives
scores over ``y1..yn``; each atom's label is one column of their normalised form. Atoms with the
same predicate and tensor arguments form one group (one network call), its values the network's
output columns in order of first appearance. Each backend's ``NeuralLabelling`` calls the
networks per group and reorders the concatenated columns by :attr:`NeuralGroups.order`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import NesyError
from .labels import slot_key
from .terms import TensorConst

GroundAtom = tuple[str, tuple]  # (predicate, args), as nesy_compile grounds them


@dataclass(frozen=True)
class NeuralGroups:
    """``calls``: the (predicate, input tensor names) applications, in output order; ``order``:
    for each key (a lowered circuit's), its column in the concatenated outputs; ``tensors``:
    every input tensor name the calls read."""

    calls: tuple[tuple[str, tuple[str, ...]], ...]
    order: np.ndarray
    tensors: tuple[str, ...]


def neural_groups(
    atoms: Iterable[GroundAtom], predicates: Iterable[str], keys: Sequence[str]
) -> NeuralGroups:
    """The groups of ``atoms`` (a compiled program's ``neural``) for the circuit's ``keys``;
    ``predicates`` are those that have a network. A NesyError names any atom without a network
    or dynamic label, and any dynamic label that is not a neural atom."""
    networks = set(predicates)
    groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for predicate, args in atoms:
        if predicate not in networks:
            raise NesyError(
                f"no network for the neural predicate {predicate!r} (have {sorted(networks)})"
            )
        tensors = tuple(a.name for a in args[:-1] if isinstance(a, TensorConst))
        groups.setdefault((predicate, tensors), []).append(slot_key(predicate, args))
    position = {k: i for i, k in enumerate(keys)}
    order = []
    for texts in groups.values():
        missing = [t for t in texts if t not in position]
        if missing:
            raise NesyError(f"the circuit has no dynamic label for the neural atoms {missing}")
        order.extend(position[t] for t in texts)
    if sorted(order) != list(range(len(keys))):
        extra = [k for i, k in enumerate(keys) if i not in set(order)]
        raise NesyError(f"dynamic labels {extra} are not neural atoms: label them statically")
    tensors = tuple(sorted({t for _, ts in groups for t in ts}))
    return NeuralGroups(tuple(groups), np.argsort(np.asarray(order, dtype=np.int64)), tensors)


def check_inputs(groups: NeuralGroups, inputs: Iterable[str]) -> None:
    """A NesyError naming the input tensors the networks need and ``inputs`` lacks."""
    missing = sorted(set(groups.tensors) - set(inputs))
    if missing:
        raise NesyError(f"no input tensor for {missing} (expected {list(groups.tensors)})")
