"""The mixing method of SATNet in torch: relaxation of inputs, forward and adjoint sweeps.

Variables are numbered 0..N-1, variable 0 being the truth direction v_0; ``S`` (N, m) holds one
row s_i per variable. The SDP relaxation of MaxSAT minimises ||V^T S||_F^2 over unit vectors
v_i in R^k (V is (batch, N, k)). The forward pass (source Alg. 4) is block coordinate descent
over the free variables, g_i = Omega s_i - ||s_i||^2 v_i, v_i = -g_i / ||g_i||, with
Omega = V^T S kept up to date after each step (v_i is kept where g_i = 0: then any v_i is
optimal). The adjoint pass (source Alg. 5) solves, by the same coordinate descent,
||g_o|| u_o + P_o sum_{j free, j != o} c_oj u_j = P_o dl/dv_o (C = S S^T) for the free
variables, which gives dl/dS and dl/dv for the given ones (SATNet, Wang et al. 2019, eqs. 11-12).

The batch is vectorised: every step updates one variable in all batch elements at once, and an
element is frozen once a sweep moves its vectors by less than ``eps`` (Frobenius norm of the
change), so its result does not depend on the other elements of the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from nesy_models.satnet.errors import SATNetError


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(
        torch.finfo(x.dtype).tiny
    )


def relax_inputs(
    z: torch.Tensor, is_input: torch.Tensor, init: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Initial unit vectors V (B, N, k) and the input directions W (B, N, k).

    ``z``, ``is_input`` are (B, N) with variable 0 the truth; ``init`` (B, N, k) are random
    vectors. v_0 = unit(init_0); a given variable i gets v_i = -cos(pi z_i) v_0 +
    sin(pi z_i) w_i with w_i the unit part of init_i orthogonal to v_0; a free one unit(init_i).
    """
    v0 = _unit(init[:, :1])
    w = _unit(init - (init * v0).sum(-1, keepdim=True) * v0)
    angle = math.pi * z.unsqueeze(-1)
    given = -torch.cos(angle) * v0 + torch.sin(angle) * w
    vectors = torch.where(is_input.unsqueeze(-1), given, _unit(init))
    vectors = torch.cat([v0, vectors[:, 1:]], dim=1)
    return vectors, w


def output_probabilities(vectors: torch.Tensor) -> torch.Tensor:
    """z_i = arccos(-v_i . v_0) / pi for every variable (B, N), as an atan2 (exact near 0, 1)."""
    v0 = vectors[:, :1]
    cos = (vectors * v0).sum(-1)
    sin = torch.linalg.vector_norm(vectors - cos.unsqueeze(-1) * v0, dim=-1)
    return torch.atan2(sin, -cos) / math.pi


def _sweeps(
    step: Callable,
    start: torch.Tensor,
    running: torch.Tensor,
    free: torch.Tensor,
    max_iter: int,
    converged: Callable,
) -> tuple[torch.Tensor, int]:
    """Sweep ``step`` over the free variables until ``converged(new, old)`` holds per element.

    ``step(i, update_i, column_i, running) -> (column_i, running)`` updates variable i where
    ``update_i`` (B, 1) is true; ``running`` is the (B * k, m) product kept up to date. A
    converged element is frozen. Returns the stacked columns and the number of sweeps.
    """
    order = torch.nonzero(free.any(0)).flatten().tolist()
    cols = list(start.unbind(1))
    active = torch.ones(start.shape[0], dtype=torch.bool, device=start.device)
    previous = start.detach()
    sweeps = 0
    while sweeps < max_iter and bool(active.any()):
        update = (free & active.unsqueeze(1)).unsqueeze(-1)
        for i in order:
            cols[i], running = step(i, update[:, i], cols[i], running)
        sweeps += 1
        current = torch.stack(cols, 1).detach()
        active = active & ~converged(current, previous)
        previous = current
    return torch.stack(cols, 1), sweeps


def _flat_product(vectors: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
    """V^T S per batch element, laid out (B * k, m) so a step is one gemv and one ger."""
    return torch.einsum("bnk,nm->bkm", vectors, S).reshape(-1, S.shape[1])


def mix_forward(
    S: torch.Tensor,
    vectors: torch.Tensor,
    free: torch.Tensor,
    max_iter: int,
    eps: float,
    differentiable: bool = False,
) -> tuple[torch.Tensor, int]:
    """Coordinate descent from ``vectors`` over the ``free`` (B, N) variables.

    Stops an element once a sweep changes its vectors by less than ``eps`` (Frobenius norm), or
    after ``max_iter`` sweeps. Returns the final vectors and the number of sweeps. With
    ``differentiable`` every step is out of place, so autograd can go through the unrolled
    iterations (the baseline the implicit backward is checked and benchmarked against);
    otherwise Omega is updated in place.
    """
    batch, _, k = vectors.shape
    rows, snorms = S.unbind(0), (S * S).sum(1).unbind(0)
    zero = S.new_zeros(())  # comparing with a tensor, not a Python number, saves a conversion

    def step(i, update, v, omega):
        s = rows[i]
        g = torch.mv(omega, s).view(batch, k) - snorms[i] * v
        norm = torch.linalg.vector_norm(g, dim=1, keepdim=True)
        v_new = torch.where(update & torch.gt(norm, zero), -g / norm, v)
        change = (v_new - v).flatten()
        return v_new, torch.addr(omega, change, s) if differentiable else omega.addr_(change, s)

    def converged(new, old):
        change = torch.linalg.vector_norm((new - old).flatten(1), dim=1)
        if not bool(torch.isfinite(change).all()):
            bad = torch.nonzero(free & ~torch.isfinite(new).all(-1))
            b, i = (int(x) for x in bad[0])
            raise SATNetError(
                f"SATNet forward: non-finite value at variable {i}, batch element {b}; check "
                "that S and the given probabilities are finite"
            )
        return change < eps

    return _sweeps(step, vectors, _flat_product(vectors, S), free, max_iter, converged)


def gradient_norms(S: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """||g_i|| (B, N) at the final vectors, the scale of each variable's adjoint step."""
    omega = torch.einsum("bnk,nm->bkm", vectors, S)
    g = torch.einsum("bkm,nm->bnk", omega, S) - (S * S).sum(1).unsqueeze(-1) * vectors
    return torch.linalg.vector_norm(g, dim=-1)


def first_zero_norm(S: torch.Tensor, norms: torch.Tensor, free: torch.Tensor) -> tuple | None:
    """(batch element, variable) of the first free variable with ||g_i|| = 0 (to rounding).

    There the clauses do not constrain v_i: any unit vector is optimal (the forward keeps the
    initial one), and the solution is not differentiable in S or z.
    """
    zero = free & (norms <= torch.finfo(norms.dtype).eps * (S * S).sum())
    if not bool(zero.any()):
        return None
    b, i = (int(x) for x in torch.nonzero(zero)[0])
    return b, i


def mix_adjoint(
    S: torch.Tensor,
    vectors: torch.Tensor,
    free: torch.Tensor,
    xi: torch.Tensor,
    norms: torch.Tensor,
    max_iter: int,
    eps: float,
) -> torch.Tensor:
    """Solve for U (B, N, k) by coordinate descent (source Alg. 5).

    ``xi`` (B, N, k) is dl/dv of the free variables projected on their tangent spaces, ``norms``
    the ||g_i|| of :func:`gradient_norms` (non-zero). Each step sets
    u_o = -P_o (Psi s_o - ||s_o||^2 u_o - xi_o) / ||g_o|| with Psi = U^T S; an element stops once
    a sweep changes its U by at most ``eps`` relative to its size, or after ``max_iter`` sweeps.
    """
    batch, _, k = vectors.shape
    rows, snorms = S.unbind(0), (S * S).sum(1).unbind(0)
    v_cols, xi_cols, norm_cols = vectors.unbind(1), xi.unbind(1), norms.unsqueeze(-1).unbind(1)

    def step(i, update, u, psi):
        s, v = rows[i], v_cols[i]
        dg = torch.mv(psi, s).view(batch, k) - snorms[i] * u - xi_cols[i]
        dg = dg - (dg * v).sum(1, keepdim=True) * v
        u_new = torch.where(update, -dg / norm_cols[i], u)
        return u_new, psi.addr_((u_new - u).flatten(), s)

    def converged(new, old):
        change = torch.linalg.vector_norm((new - old).flatten(1), dim=1)
        return change <= eps * torch.linalg.vector_norm(new.flatten(1), dim=1)

    start = torch.zeros_like(vectors)
    return _sweeps(step, start, _flat_product(start, S), free, max_iter, converged)[0]


def adjoint_gradients(
    S: torch.Tensor, vectors: torch.Tensor, adjoint: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """dl/dS (N, m) and dl/dV (B, N, k) from U (SATNet eqs. 11-12).

    dl/dS = -sum_b (U Omega + V Psi) with Omega = V^T S, Psi = U^T S; dl/dv_j = -Psi s_j, of
    which only the rows of given variables are used.
    """
    omega = torch.einsum("bnk,nm->bkm", vectors, S)
    psi = torch.einsum("bnk,nm->bkm", adjoint, S)
    grad_s = -torch.einsum("bnk,bkm->nm", adjoint, omega) - torch.einsum(
        "bnk,bkm->nm", vectors, psi
    )
    grad_v = -torch.einsum("bkm,nm->bnk", psi, S)
    return grad_s, grad_v
