"""The most probable explanation: the most probable assignment among a root's models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..circuit import Circuit
from ..evaluate import _ground, as_labelling
from ..labels import Labelling
from ..nodes import Node
from ..smooth import variable
from .topdown import branch_terms, log_forward, slot_key_of, variable_of


def mpe(
    circuit: Circuit,
    labels: Labelling | Mapping | None = None,
    root: str | None = None,
    env: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], Any]:
    """The most probable assignment of the circuit's atoms among the models of ``root``, and
    its probability (the joint with the root): max-product evaluation, then backtracking from
    the root through the maximising child of each (+) node.

    Exact on deterministic, decomposable circuits (the d-DNNFs PySDD compiles): on others a
    (+) node's max is not that of a model. A categorical choice (a neural predicate) gets one
    value. Batched labels (B,) give arrays (B,), else bools and a float.
    """
    labelling, env = as_labelling(labels), dict(env or {})
    lc = log_forward(circuit, labelling, env, root, "max")
    width = len(lc.logv[lc.root])
    best = {v: x.normalised & (x.true > x.false) for v, x in lc.table.items()}
    assignment = {v: np.zeros(width, dtype=bool) for v in lc.table}
    visit: dict[Node, np.ndarray] = {lc.root: np.ones(width, dtype=bool)}
    for n in reversed(lc.order):
        m = visit.get(n)
        if m is None or not m.any():
            continue
        if not n.children:
            v = variable(n)
            if v is not None and _ground(n, env).arg.rvar:
                assignment[variable_of(n, env)] |= m
        elif n.is_op("plus"):
            choice = branch_terms(n, lc.logv, lc.missing[n], lc.factor).argmax(axis=0)
            for j, c in enumerate(n.children):
                mj = m & (choice == j)
                visit[c] = visit.get(c, False) | mj
                for v in lc.missing[n][j]:
                    assignment[v] |= mj & best[v]
        else:
            for c in n.children:
                visit[c] = visit.get(c, False) | m
    logp = lc.logv[lc.root].copy()
    for v in lc.table:
        if v not in lc.below:
            assignment[v] = best[v].copy()
            logp = logp + lc.factor[v]
    keyed = {
        slot_key_of(v): a for v, a in sorted(assignment.items(), key=lambda i: slot_key_of(i[0]))
    }
    if lc.batch is None:
        return {k: bool(a[0]) for k, a in keyed.items()}, float(np.exp(logp[0]))
    return keyed, np.exp(logp)
