"""Vi-SATNet explanations: minimal significant feature sets and discretised rules as IR."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from nesy_ir import evaluate_circuit
from nesy_ir.backends import get_backend
from nesy_models.visatnet import ViSATNet, ViSATNetError, random_mask, unit
from nesy_models.visatnet.msfs import minimal_significant_set, target_similarity
from nesy_models.visatnet.rules import (
    WeightedClause,
    discretise,
    labels_of,
    objective_circuit,
    rule_agreement,
    satisfied_weight,
)


@pytest.fixture(scope="module")
def tiny():
    layer = ViSATNet(8, 4, 12, seed=3)
    vectors = unit(torch.randn(8, 4, generator=torch.Generator().manual_seed(4)))
    return layer, vectors


@pytest.mark.parametrize("alpha", [0.5, 0.9])
def test_minimal_significant_set_is_significant_and_1_minimal(tiny, alpha):
    layer, vectors = tiny
    found = minimal_significant_set(layer, vectors, target=2, alpha=alpha)
    assert 2 not in found.kept
    reference = target_similarity(layer, vectors, 2, set(range(8)) - {2})
    assert found.reference == pytest.approx(reference)
    assert found.score >= alpha * reference
    for i in found.kept:
        assert target_similarity(layer, vectors, 2, set(found.kept) - {i}) < found.threshold


def test_msfs_bad_target_and_alpha_raise(tiny):
    layer, vectors = tiny
    with pytest.raises(ViSATNetError, match="target position"):
        minimal_significant_set(layer, vectors, target=8, alpha=0.9)
    with pytest.raises(ViSATNetError, match="alpha"):
        minimal_significant_set(layer, vectors, target=0, alpha=1.5)


def test_discretise_reads_the_satnet_clause_encoding():
    # columns of SATNet's own encoding, one with its sign flipped: (x1 or not x3), (x2)
    S = np.array([[-1.0, 1.0], [1.0, 0.0], [0.0, -1.0], [-1.0, 0.0]])
    S[:, 0] /= np.sqrt(8)
    S[:, 1] /= -np.sqrt(4)
    clauses = discretise(S)
    assert [c.literals for c in clauses] == [(1, -3), (2,)]
    assert [c.weight for c in clauses] == pytest.approx([3 / 8, 0.5])


def test_objective_formula_equals_brute_force_weighted_maxsat_count():
    S = torch.randn(5, 7, generator=torch.Generator().manual_seed(0))
    clauses = discretise(S, threshold=0.4)
    assignments = np.array(list(itertools.product((0, 1), repeat=4)))
    expected = satisfied_weight(clauses, assignments)
    by_hand = [
        sum(c.weight for c in clauses if any((a[abs(x) - 1] == 1) == (x > 0) for x in c.literals))
        for a in assignments
    ]
    assert np.allclose(expected, by_hand)
    circuit = objective_circuit(clauses)
    labels = labels_of(assignments)
    assert np.allclose(evaluate_circuit(circuit, labels)["objective"], expected)
    torch_values = get_backend("torch").evaluate_circuit(circuit, labels)["objective"]
    assert np.allclose(np.asarray(torch_values), expected)


def test_objective_rejects_empty_and_bad_threshold():
    with pytest.raises(ViSATNetError, match="threshold"):
        discretise(np.ones((3, 2)), threshold=0.0)
    with pytest.raises(ViSATNetError, match="no clauses"):
        objective_circuit([])
    assert satisfied_weight([WeightedClause(2.0, (1,))], np.array([[1], [0]])).tolist() == [2, 0]


def test_rule_agreement_reports_fractions(tiny):
    layer, _ = tiny
    vectors = unit(torch.randn(4, 8, 4, generator=torch.Generator().manual_seed(5)))
    mask = random_mask(4, 8, 0.5, torch.Generator().manual_seed(6))
    report = rule_agreement(layer, discretise(layer.S), vectors, mask)
    assert report["masked_variables"] == 16
    for key in ("rules_vs_layer", "rules_vs_truth", "layer_vs_truth"):
        assert 0.0 <= report[key] <= 1.0
