"""Log weights of a root's sub-circuit for the top-down passes (MPE and sampling): each (+)
child's weight times the labels' max or sum of the normalised variables it misses (smoothing
on the fly; a missing variable whose labels are not normalised is false)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..circuit import Circuit
from ..evaluate import _atom_value, _Batch, _ground
from ..labels import Labelling, slot_key
from ..lowering import kernel
from ..nodes import Kind, Node
from ..smooth import Variable, variables
from ..traverse import postorder
from .variables import (
    WEIGHT_STRUCTURES,
    InferenceError,
    VariableLabels,
    check_possible,
    root_index,
    variable_labels,
)


@dataclass
class LogCircuit:
    """The log weights of the nodes below one root, with what top-down passes need."""

    root: Node
    order: list[Node]  # children first
    logv: dict[Node, np.ndarray]  # (width,)
    missing: dict[Node, list[list[Variable]]]  # per (+) node and child: the variables it misses
    table: dict[Variable, VariableLabels]  # every variable of the circuit
    factor: dict[Variable, np.ndarray]  # log of the labels' max or sum (normalised), else 0
    below: frozenset  # the variables below the root
    batch: int | None


def _log_leaf(node: Node, labels: Labelling, env: Mapping[str, Any], batch: _Batch) -> Any:
    if node.kind is Kind.CONST:
        value = np.asarray(node.arg, dtype=float)
    else:
        value = np.asarray(_atom_value(node, env, labels, batch), dtype=float)
    if node.structure == "logprob":
        return value
    if np.any(value < 0):
        raise InferenceError(f"{node} has a negative weight: MPE and sampling need weights >= 0")
    with np.errstate(divide="ignore"):
        return np.log(value)


def log_forward(
    circuit: Circuit, labels: Labelling, env: Mapping[str, Any], root: str | None, how: str
) -> LogCircuit:
    """Evaluate the root's sub-circuit in log space with (+) as ``how`` ('max' or 'sum'), each
    (+) child times the labels' ``how`` of the normalised variables it misses (smoothing on
    the fly; missing non-normalised variables are false, weight one)."""
    r = root_index(circuit.names, root)
    top = circuit.roots[r]
    order = postorder([top])
    batch = _Batch()
    leaves = [n for n in circuit.nodes() if not n.children]  # every root's: all the atoms
    logs = {n: _log_leaf(n, labels, env, batch) for n in leaves}
    width = batch.size or 1
    logv = {n: np.broadcast_to(v, (width,)).astype(float) for n, v in logs.items()}
    native = [logv[n] if n.structure == "logprob" else np.exp(logv[n]) for n in leaves]
    table = variable_labels(leaves, native, labels, env)
    with np.errstate(divide="ignore", invalid="ignore"):
        pick = np.maximum if how == "max" else np.add
        factor = {
            v: np.where(x.normalised, np.log(pick(x.true, x.false)), 0.0) for v, x in table.items()
        }
    below = variables(Circuit([top]))
    missing: dict[Node, list[list[Variable]]] = {}
    for n in order:
        if not n.children:
            continue
        if n.structure not in (*WEIGHT_STRUCTURES, "bool"):
            raise InferenceError(f"MPE and sampling need weights, not values of {n.structure}")
        if n.kind is Kind.TRANSFORM:
            if kernel(f"transform:{n.arg}->{n.structure}", n.structure) not in (
                "identity",
                "log",
                "exp",
            ):
                raise InferenceError(f"MPE and sampling cannot pass the transformation of {n}")
            logv[n] = logv[n.children[0]]  # log space: the weight is the same
        elif n.is_op("times"):
            logv[n] = np.sum([logv[c] for c in n.children], axis=0)
        elif n.is_op("plus"):
            missing[n] = [sorted(below[n] - below[c], key=slot_key_of) for c in n.children]
            terms = branch_terms(n, logv, missing[n], factor)
            if how == "max" or n.structure == "bool":  # or of 0 / -inf: the max
                logv[n] = terms.max(axis=0)
            else:
                logv[n] = np.logaddexp.reduce(terms, axis=0)
        else:
            raise InferenceError(
                f"MPE and sampling need circuits of sums and products, not {n.kind.value}"
                f" {n.arg} (a negation is not monotone)"
            )
    out = LogCircuit(top, order, logv, missing, table, factor, below[top], batch.size)
    check_possible(circuit.names[r], logv[top], log=True)
    return out


def slot_key_of(v: Variable) -> str:
    """The text key of a variable (its order in messages and results)."""
    return slot_key(*v)


def branch_terms(n: Node, logv: dict, missing: list[list[Variable]], factor: dict) -> np.ndarray:
    """(children, width): each child's log weight times the factors of what it misses."""
    return np.stack(
        [
            logv[c] + sum((factor[v] for v in miss), np.zeros_like(logv[c]))
            for c, miss in zip(n.children, missing, strict=True)
        ]
    )


def variable_of(node: Node, env: Mapping[str, Any]) -> Variable:
    a = _ground(node, env).arg
    return a.predicate, a.args
