"""The SATNet forward pass solves small MAX-2-SAT instances: brute force gives the optimum."""

import itertools

import numpy as np
import pytest
import torch

from nesy_models.satnet import SATNetError, clause_matrix, satnet_solve


def _random_max2sat(rng, n, m):
    """Random 2-clauses until every variable is constrained (each occurs with a net coupling)."""
    while True:
        clauses = [
            [int(v) * int(rng.choice([-1, 1])) for v in rng.choice(n, 2, replace=False) + 1]
            for _ in range(m)
        ]
        S = clause_matrix(clauses, n)
        coupling = S @ S.T - np.diag((S * S).sum(1))
        if np.abs(coupling[1:]).sum(1).min() > 1e-9:
            return clauses, S


def _satisfied(clauses, assignment):
    return sum(any((lit > 0) == bool(assignment[abs(lit) - 1]) for lit in c) for c in clauses)


def _objective(S, assignment):
    """||V^T S||^2 with v_i = +v_0 for true, -v_0 for false (the relaxation at a binary point)."""
    signs = np.concatenate([[1.0], 2.0 * np.asarray(assignment) - 1.0])
    return float(((signs @ S) ** 2).sum())


def test_clause_matrix_objective_counts_violated_clauses():
    rng = np.random.default_rng(0)
    clauses, S = _random_max2sat(rng, 5, 9)
    base = sum(1 / (4 * len(c)) for c in clauses)
    for assignment in itertools.product([0, 1], repeat=5):
        violated = len(clauses) - _satisfied(clauses, assignment)
        assert _objective(S, assignment) == pytest.approx(base + violated)


# A free variable whose clauses cancel once the given ones are fixed is unconstrained: the layer
# warns, and any value of it is optimal.
@pytest.mark.filterwarnings("ignore:SATNet.*zero gradient norm")
@pytest.mark.parametrize("seed", range(8))
def test_forward_reaches_the_brute_force_optimum(seed):
    n, m, batch = 11, 30, 4
    rng = np.random.default_rng(seed)
    clauses, S = _random_max2sat(rng, n, m)
    given = np.zeros(n, bool)
    given[rng.choice(n, 3, replace=False)] = True
    values = rng.integers(0, 2, n).astype(float)
    best = max(
        _satisfied(clauses, np.where(given, values, free))
        for free in itertools.product([0, 1], repeat=n)
    )
    init = torch.randn(batch, n + 1, 6, generator=torch.Generator().manual_seed(seed)).double()
    out = satnet_solve(
        torch.tensor(S),
        torch.tensor(values).expand(batch, n),
        torch.tensor(given).expand(batch, n),
        init,
        max_iter=200,
        eps=1e-10,
    )
    for assignment in (out > 0.5).numpy():
        assert _satisfied(clauses, assignment) == best


@pytest.mark.parametrize(
    ("clauses", "message"),
    [([[1, -1]], "occurs twice"), ([[3]], "literals must be"), ([[]], "non-empty")],
)
def test_bad_clause_raises(clauses, message):
    with pytest.raises(SATNetError, match=message):
        clause_matrix(clauses, 2)
