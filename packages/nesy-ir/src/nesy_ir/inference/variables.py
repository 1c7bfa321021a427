"""The Boolean variables of a weighted circuit, their labels, and the roots inference conditions
on: what posterior marginals, MPE and sampling share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import LabelError, NesyError
from ..evaluate import _atom_value, _Batch, _ground
from ..labels import Labelling, slot_key
from ..nodes import AtomArg, Kind, Node
from ..smooth import Variable, variable


class InferenceError(NesyError):
    """A circuit or a root that conditional inference cannot work on."""


class ImpossibleEvidenceError(InferenceError):
    """Conditioning on a root whose value is zero: no model of it has a non-zero weight."""


#: A variable's labels are normalised where ``|theta_true + theta_false - 1|`` is at most this.
NORMALISED_TOLERANCE = 1e-9
#: The structures whose values are weights (probabilities, their logarithms, reals).
WEIGHT_STRUCTURES = ("prob", "real", "maxprod", "logprob")


@dataclass
class VariableLabels:
    """One Boolean variable: its key, its labels in probability space (arrays broadcast to the
    batch), and whether they are normalised (per batch element)."""

    key: str
    true: np.ndarray
    false: np.ndarray

    @property
    def normalised(self) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.abs(self.true + self.false - 1.0) <= NORMALISED_TOLERANCE

    def prior(self) -> np.ndarray:
        """P(true) where normalised, else 0 (a missing non-normalised variable is false)."""
        return np.where(self.normalised, self.true, 0.0)


def _to_weight(value: Any, structure: str) -> np.ndarray:
    """A label as a weight in probability space (logprob labels are exponentiated)."""
    value = np.asarray(value, dtype=float)
    return np.exp(value) if structure == "logprob" else value


def _label_of(node: Node, rvalue: bool, labels: Labelling, env: Mapping[str, Any]) -> np.ndarray:
    """The weight of ``node``'s variable with the truth value ``rvalue``; NaN if unlabelled."""
    a = node.arg
    other = Node(Kind.ATOM, node.structure, AtomArg(a.predicate, a.args, rvalue))
    try:
        return _to_weight(_atom_value(other, env, labels, _Batch()), node.structure)
    except LabelError:
        return np.asarray(np.nan)


def variable_labels(
    leaves: list[Node], values: list[np.ndarray], labels: Labelling, env: Mapping[str, Any]
) -> dict[Variable, VariableLabels]:
    """The variables of the reified leaves, with the labels of both truth values: from the
    leaves where present, else from ``labels`` (NaN where it has none: not normalised)."""
    found: dict[Variable, dict[bool, np.ndarray]] = {}
    ground: dict[Variable, Node] = {}
    for node, value in zip(leaves, values, strict=True):
        if variable(node) is None:
            continue
        g = _ground(node, env)
        v = (g.arg.predicate, g.arg.args)
        ground.setdefault(v, g)
        found.setdefault(v, {})[g.arg.rvar] = _to_weight(value, node.structure)
    out = {}
    for v, have in found.items():
        t = have[True] if True in have else _label_of(ground[v], True, labels, env)
        f = have[False] if False in have else _label_of(ground[v], False, labels, env)
        t, f = np.broadcast_arrays(np.asarray(t, dtype=float), np.asarray(f, dtype=float))
        out[v] = VariableLabels(slot_key(*v), t, f)
    return out


def root_index(names: tuple[str, ...], root: str | None) -> int:
    if root is None:
        if len(names) == 1:
            return 0
        raise InferenceError(f"the circuit has {len(names)} roots {list(names)}: name the root")
    key = "".join(root.split())
    for i, name in enumerate(names):
        if name == root or "".join(name.split()) == key:
            return i
    raise InferenceError(f"no root {root!r} in the circuit (roots: {list(names)})")


def check_possible(name: str, value: np.ndarray, log: bool) -> None:
    zero = np.asarray(value <= -np.inf if log else value <= 0.0)
    if np.any(zero):
        where = f" (batch elements {np.flatnonzero(zero)[:10].tolist()})" if zero.ndim else ""
        raise ImpossibleEvidenceError(
            f"root {name!r} has probability 0{where}: conditioning on it is undefined"
        )


def combine_shares(
    table: Mapping[Variable, VariableLabels], shares: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """P(atom | root) from the shares ``d log f / d log theta`` of the slots ``a[true]`` and
    ``a[false]`` (absent: 0): the true share, plus the prior share of what neither slot
    accounts for (the branches that sum the variable out) where its labels are normalised."""
    out = {}
    for var in table.values():
        g_t = np.asarray(shares.get(f"{var.key}[true]", 0.0), dtype=float)
        g_f = np.asarray(shares.get(f"{var.key}[false]", 0.0), dtype=float)
        rest = 1.0 - g_t - g_f
        out[var.key] = np.clip(g_t + var.prior() * rest, 0.0, 1.0)
    return out
