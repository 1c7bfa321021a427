"""Learned rules as IR objects: a clause matrix S discretised into a weighted MaxSAT objective.

SATNet encodes clause j as the column (-1, s~_1j, ..., s~_nj) / sqrt(4 |s~_j|) (row 0 the truth
direction), and ||V S||^2 is invariant under flipping a column's sign. So each learned column is
first signed to make its truth entry non-positive; its literals are the variables whose weight
is at least ``threshold`` times the column's largest one, with the sign of that weight; its
weight is the column's squared norm, its share of the SDP objective. The objective, the weight
of the satisfied clauses, becomes a formula of the ``real`` structure over atoms ``x<i>``
(variable i, 1-based; 1 = true) that nesy-ir and its backends evaluate on 0/1 labels.

A vector v reads as true when v . v_0 > 0 (v_0 the truth direction, here the uniform unit
vector; the layer's axis variables e_k are constants that read true); :func:`rule_agreement`
compares the layer's re-generated truth values with the
assignment of the masked variables that maximises the discretised objective (brute force).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

from nesy_ir import Circuit, apply, atom, const
from nesy_ir.nodes import Node
from nesy_models.visatnet.errors import ViSATNetError
from nesy_models.visatnet.layer import ViSATNet

STRUCTURE = "real"


@dataclass(frozen=True)
class WeightedClause:
    """A disjunction of literals (+i: x_i, -i: not x_i, i >= 1) with a non-negative weight."""

    weight: float
    literals: tuple[int, ...]


def discretise(S: np.ndarray | torch.Tensor, threshold: float = 0.5) -> list[WeightedClause]:
    """Weighted clauses of a clause matrix S (1 + variables, m), row 0 the truth direction."""
    S = np.asarray(S.detach().cpu() if isinstance(S, torch.Tensor) else S, dtype=np.float64)
    if S.ndim != 2 or S.shape[0] < 2:
        raise ViSATNetError(f"S must be (1 + variables, m) with a truth row, got {S.shape}")
    if not 0.0 < threshold <= 1.0:
        raise ViSATNetError(f"threshold must be in (0, 1], got {threshold}")
    signed = S * np.where(S[:1] > 0, -1.0, 1.0)
    clauses = []
    for column in signed.T:
        body = column[1:]
        largest = np.abs(body).max()
        if largest == 0:
            continue
        chosen = np.flatnonzero(np.abs(body) >= threshold * largest)
        literals = tuple(int(np.sign(body[i])) * (int(i) + 1) for i in chosen)
        clauses.append(WeightedClause(float(column @ column), literals))
    return clauses


def _literal(lit: int) -> Node:
    x = atom(f"x{abs(lit)}", structure=STRUCTURE)
    return x if lit > 0 else apply("neg", x)


def objective_formula(clauses: list[WeightedClause]) -> Node:
    """sum_j w_j * (1 - prod_{l in clause j} (1 - l)) in ``real``: the satisfied weight."""
    if not clauses:
        raise ViSATNetError("no clauses: the objective is empty")
    terms = [
        apply(
            "times",
            const(clause.weight, STRUCTURE),
            apply("neg", apply("times", *[apply("neg", _literal(lit)) for lit in clause.literals])),
        )
        for clause in clauses
    ]
    return apply("plus", *terms)


def objective_circuit(clauses: list[WeightedClause]) -> Circuit:
    """The objective as a one-root circuit named ``objective``."""
    return Circuit(objective_formula(clauses), ["objective"])


def satisfied_weight(clauses: list[WeightedClause], assignment: np.ndarray) -> np.ndarray:
    """Brute-force weight of the satisfied clauses, per row of a (B, variables) 0/1 assignment."""
    assignment = np.asarray(assignment, dtype=bool)
    total = np.zeros(assignment.shape[0])
    for clause in clauses:
        values = [assignment[:, abs(lit) - 1] == (lit > 0) for lit in clause.literals]
        total += clause.weight * np.logical_or.reduce(values)
    return total


def labels_of(assignment: np.ndarray) -> dict[str, np.ndarray]:
    """Labels ``x<i>`` (B,) of a (B, variables) 0/1 assignment for the objective circuit."""
    assignment = np.asarray(assignment, dtype=np.float64)
    return {f"x{i + 1}": assignment[:, i] for i in range(assignment.shape[1])}


def truth_values(vectors: torch.Tensor) -> torch.Tensor:
    """(..., n) bool: v . v_0 > 0 with v_0 the uniform unit vector (the layer's truth)."""
    return vectors.sum(-1) > 0


@torch.no_grad()
def rule_agreement(
    layer: ViSATNet,
    clauses: list[WeightedClause],
    vectors: torch.Tensor,
    mask: torch.Tensor,
) -> dict[str, float]:
    """How often the discretised rules' best completion matches the layer's, per masked variable.

    For each image, the masked variables (and auxiliaries) take the assignment that maximises
    the satisfied weight given the truth values of the kept vectors (2^free brute force); its
    values are compared with the truth values of the layer's re-generated vectors and, as a
    baseline, with the truth values of the true vectors.
    """
    free_count = int(mask.sum(1).max()) + layer.aux
    if free_count > 16:
        raise ViSATNetError(f"{free_count} free variables: too many for the brute force (<= 16)")
    given = truth_values(vectors).numpy()
    regenerated = truth_values(layer(vectors, mask)).numpy()
    n = vectors.shape[1]
    agree_layer = agree_truth = total = 0
    for b in range(len(vectors)):
        free = np.concatenate([np.flatnonzero(mask[b].numpy()), n + np.arange(layer.aux)])
        candidates = np.array(list(itertools.product((False, True), repeat=len(free))))
        row = np.concatenate([given[b], np.zeros(layer.aux, bool), np.ones(layer.k, bool)])
        assignment = np.repeat(row[None], len(candidates), 0)
        assignment[:, free] = candidates
        best = assignment[int(np.argmax(satisfied_weight(clauses, assignment)))]
        masked = free[free < n]
        agree_layer += int((best[masked] == regenerated[b, masked]).sum())
        agree_truth += int((best[masked] == given[b, masked]).sum())
        total += len(masked)
    return {
        "rules_vs_layer": agree_layer / max(total, 1),
        "rules_vs_truth": agree_truth / max(total, 1),
        "layer_vs_truth": float((regenerated == given)[mask.numpy()].mean()),
        "masked_variables": float(total),
    }
