"""The clause matrix of a MaxSAT instance, as the SATNet paper encodes it.

Clause j over literals s~_ij in {-1, 0, 1} (variable i negated, absent, positive) becomes the
column (-1, s~_1j, ..., s~_nj) / sqrt(4 |s~_j|): row 0 is the truth direction. With every v_i
equal to +v_0 (true) or -v_0 (false), ||V^T S||^2 is, per clause of at most two literals,
1/(4|s_j|) plus 1 if the clause is violated, so the relaxation's objective is an affine function of
the number of violated clauses for MAX-2-SAT.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nesy_models.satnet.errors import SATNetError


def clause_matrix(clauses: Sequence[Sequence[int]], n: int) -> np.ndarray:
    """S (n + 1, m) for clauses given as DIMACS-style literals (1-based, negative = negated)."""
    S = np.zeros((n + 1, len(clauses)))
    for j, clause in enumerate(clauses):
        if not clause or any(lit == 0 or abs(lit) > n for lit in clause):
            raise SATNetError(f"clause {j} ({list(clause)}): literals must be +-1..{n}, non-empty")
        if len({abs(lit) for lit in clause}) != len(clause):
            raise SATNetError(f"clause {j} ({list(clause)}): a variable occurs twice")
        for lit in clause:
            S[abs(lit), j] = np.sign(lit)
        S[0, j] = -1.0
        S[:, j] /= np.sqrt(4 * len(clause))
    return S
