"""Exact posterior sampling: draws from P(atoms | root), top-down."""

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
from .variables import InferenceError


def sample(
    circuit: Circuit,
    labels: Labelling | Mapping | None = None,
    root: str | None = None,
    k: int = 1,
    seed: int = 0,
    env: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """``k`` exact draws from P(atoms | root): bool arrays (k,) by atom key.

    Top-down through the root's sub-circuit, the k draws at once: a (+) node sends each draw
    to one child, with probability proportional to the child's weight (times the sums of the
    normalised variables it misses, which the draw then takes from their priors); a (x) node
    sends it to every child. Exact on deterministic, decomposable circuits (PySDD's d-DNNFs).
    One labelling only (labels batched over B > 1 are an error); ``seed`` seeds a NumPy
    Generator.
    """
    labelling, env = as_labelling(labels), dict(env or {})
    lc = log_forward(circuit, labelling, env, root, "sum")
    if lc.batch is not None and lc.batch != 1:
        raise InferenceError(f"sample takes one labelling, not a batch of {lc.batch}")
    rng = np.random.default_rng(seed)
    prior = {v: float(x.prior()[0]) for v, x in lc.table.items()}
    assignment = {v: np.zeros(k, dtype=bool) for v in lc.table}
    visit: dict[Node, np.ndarray] = {lc.root: np.ones(k, dtype=bool)}
    for n in reversed(lc.order):
        m = visit.get(n)
        if m is None or not m.any():
            continue
        if not n.children:
            if variable(n) is not None and _ground(n, env).arg.rvar:
                assignment[variable_of(n, env)] |= m
        elif n.is_op("plus"):
            terms = branch_terms(n, lc.logv, lc.missing[n], lc.factor)[:, 0]
            p = np.exp(terms - np.logaddexp.reduce(terms))
            choice = rng.choice(len(p), size=k, p=p / p.sum())
            for j, c in enumerate(n.children):
                mj = m & (choice == j)
                visit[c] = visit.get(c, False) | mj
                for v in lc.missing[n][j]:
                    assignment[v] |= mj & (rng.random(k) < prior[v])
        else:
            for c in n.children:
                visit[c] = visit.get(c, False) | m
    for v in lc.table:
        if v not in lc.below:
            assignment[v] = rng.random(k) < prior[v]
    return {
        slot_key_of(v): a for v, a in sorted(assignment.items(), key=lambda i: slot_key_of(i[0]))
    }
