"""The NumPy reference evaluator: the oracle every rewrite and backend is tested against.

Formulas are evaluated by enumeration over the domains of aggregated variables; circuits
node by node in topological order. Labels are batched over a leading axis.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .circuit import Circuit
from .errors import LabelError, UnboundVariableError
from .labels import Labelling
from .nodes import AtomArg, Kind, Node
from .registry import get_algebra, get_transformation
from .terms import Var, domain_values
from .traverse import postorder


def as_labelling(labels: Labelling | Mapping | None) -> Labelling:
    """Accept a :class:`Labelling` or a plain mapping of atom keys to labels."""
    return labels if isinstance(labels, Labelling) else Labelling(labels or {})


class _Batch:
    """Checks that every label has the same batch size; names the atom that disagrees."""

    def __init__(self) -> None:
        self.size: int | None = None
        self.first: str = ""

    def check(self, array: np.ndarray, where: Node) -> np.ndarray:
        if array.ndim == 1:
            if self.size is None:
                self.size, self.first = array.shape[0], str(where)
            elif array.shape[0] != self.size:
                raise LabelError(
                    f"label of {where} has batch size {array.shape[0]}, but the label of"
                    f" {self.first} has {self.size}"
                )
        return array


def _ground(node: Node, env: Mapping[str, Any]) -> Node:
    """The atom with its variables replaced by their values in ``env``."""
    a = node.arg

    def value(v: Var) -> Any:
        if v.name not in env:
            raise UnboundVariableError(
                f"unbound variable {v.name} in {node}: give it a value or aggregate over it"
            )
        return env[v.name]

    args = tuple(value(t) if isinstance(t, Var) else t for t in a.args)
    rvar = value(a.rvar) if isinstance(a.rvar, Var) else a.rvar
    return Node(Kind.ATOM, node.structure, AtomArg(a.predicate, args, rvar))


def _atom_value(node: Node, env: Mapping[str, Any], labels: Labelling, batch: _Batch) -> Any:
    ground = _ground(node, env)
    if node.structure == "bool" and ground.arg.rvar is not None:
        return np.asarray(bool(ground.arg.rvar))  # identity labelling of reified Boolean atoms
    return batch.check(labels.label(ground), ground)


def _combine(node: Node, values: list) -> Any:
    """The value of a non-leaf node from its children's values."""
    if node.kind is Kind.TRANSFORM:
        return get_transformation(node.arg, node.structure).fn(values[0])
    algebra = get_algebra(node.structure)
    if node.kind is Kind.APPLY and node.arg == "neg":
        return algebra.neg(values[0])
    return algebra.reduce(node.role, values)


def evaluate(
    node: Node, labels: Labelling | Mapping | None = None, env: Mapping[str, Any] | None = None
) -> np.ndarray:
    """The label of ``node`` under ``labels``, with free variables bound by ``env``.

    Iterative (an explicit stack of pending calls), so formulas of any depth evaluate.
    """
    labels = as_labelling(labels)
    batch = _Batch()
    memo: dict[tuple, Any] = {}
    free: dict[Node, list[str]] = {}

    def key(n: Node, env: dict) -> tuple:
        names = free.get(n)
        if names is None:
            names = free[n] = sorted(n.free)
        return (n, tuple(env.get(v, _MISSING) for v in names))

    def calls(n: Node, env: dict) -> list[tuple[Node, dict]]:
        """The (child, environment) pairs whose values ``n`` combines."""
        if n.kind is Kind.AGG:
            body, var = n.children[0], n.arg.var
            return [(body, {**env, var: d}) for d in domain_values(n.arg.domain)]
        return [(c, env) for c in n.children]

    root = (node, dict(env or {}))
    stack = [root]
    while stack:
        n, e = stack[-1]
        k = key(n, e)
        if k in memo:
            stack.pop()
            continue
        sub = calls(n, e)
        pending = [call for call in sub if key(*call) not in memo]
        if pending:
            stack.extend(reversed(pending))  # children first, left to right
            continue
        stack.pop()
        values = [memo[key(*call)] for call in sub]
        if n.kind is Kind.CONST:
            memo[k] = np.asarray(n.arg)
        elif n.kind is Kind.ATOM:
            memo[k] = _atom_value(n, e, labels, batch)
        elif n.kind is Kind.AGG:
            memo[k] = get_algebra(n.structure).reduce(n.arg.role, values)
        else:
            memo[k] = _combine(n, values)
    return np.asarray(memo[key(*root)])


_MISSING = object()


def evaluate_circuit(
    circuit: Circuit,
    labels: Labelling | Mapping | None = None,
    env: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """The value of every root of ``circuit`` by name, computed once per node."""
    labels = as_labelling(labels)
    env = dict(env or {})
    batch = _Batch()
    value: dict[int, Any] = {}
    for n in postorder(circuit.roots):
        if n.kind is Kind.CONST:
            value[id(n)] = np.asarray(n.arg)
        elif n.kind is Kind.ATOM:
            value[id(n)] = _atom_value(n, env, labels, batch)
        else:
            value[id(n)] = _combine(n, [value[id(c)] for c in n.children])
    return {
        name: np.asarray(value[id(r)]) for name, r in zip(circuit.names, circuit.roots, strict=True)
    }
