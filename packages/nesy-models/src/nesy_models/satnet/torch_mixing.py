"""The mixing method of SATNet in torch: relaxation of inputs, forward and adjoint sweeps.

Variables are numbered 0..N-1, variable 0 being the truth direction v_0; ``S`` (N, m) holds one
row s_i per variable. The SDP relaxation of MaxSAT minimises ||V^T S||_F^2 over unit vectors
v_i in R^k (V is (batch, N, k)). The forward pass (source Alg. 4) is block coordinate descent
over the free variables, g_i = Omega s_i - ||s_i||^2 v_i, v_i = -g_i / ||g_i||, with
Omega = V^T S kept up to date after each step. The adjoint pass (source Alg. 5) solves, by the
same coordinate descent, (||g_o|| I + P_o sum_j c_oj .) u = P_o dl/dv_o for the free variables,
which gives dl/dS and dl/dv for the given ones (SATNet, Wang et al. 2019, eqs. 11-12).

The batch is vectorised: every step updates one variable in all batch elements at once, and an
element is frozen once a sweep moves its vectors by less than ``eps`` (Frobenius norm of the
change), so its result does not depend on the other elements of the batch.
"""

from __future__ import annotations

import math

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


def _raise_zero_norm(cols: list[torch.Tensor], order: list[int], sweep: int) -> None:
    first = next(i for i in order if not torch.isfinite(cols[i]).all())
    batch = torch.nonzero(~torch.isfinite(cols[first]).all(-1)).flatten().tolist()
    raise SATNetError(
        f"SATNet forward, sweep {sweep}: zero gradient norm ||g_i|| (or a non-finite value) "
        f"at variable {first}, batch elements {batch[:10]}: v_i = -g_i/||g_i|| is undefined; "
        f"check that row {first} of S is not zero and that S is finite"
    )


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
    batch = vectors.shape[0]
    order = torch.nonzero(free.any(0)).flatten().tolist()
    snorm = (S * S).sum(1)
    cols = list(vectors.unbind(1))
    omega = torch.einsum("bnk,nm->bkm", vectors, S)
    active = torch.ones(batch, dtype=torch.bool, device=vectors.device)
    previous = vectors.detach()
    sweeps = 0
    while sweeps < max_iter and bool(active.any()):
        update = (free & active.unsqueeze(1)).unsqueeze(-1)
        for i in order:
            v, s = cols[i], S[i]
            g = torch.matmul(omega, s) - snorm[i] * v
            norm = torch.linalg.vector_norm(g, dim=1, keepdim=True)
            v_new = torch.where(update[:, i], -g / norm, v)
            step = (v_new - v).unsqueeze(-1) * s
            omega = omega + step if differentiable else omega.add_(step)
            cols[i] = v_new
        sweeps += 1
        current = torch.stack(cols, 1).detach()
        change = torch.linalg.vector_norm((current - previous).flatten(1), dim=1)
        if not bool(torch.isfinite(change).all()):
            _raise_zero_norm(cols, order, sweeps)
        active = active & ~(change < eps)
        previous = current
    return torch.stack(cols, 1), sweeps


def gradient_norms(S: torch.Tensor, vectors: torch.Tensor, free: torch.Tensor) -> torch.Tensor:
    """||g_i|| (B, N) at the final vectors; raises where a free variable has a zero norm."""
    omega = torch.einsum("bnk,nm->bkm", vectors, S)
    g = torch.einsum("bkm,nm->bnk", omega, S) - (S * S).sum(1).unsqueeze(-1) * vectors
    norms = torch.linalg.vector_norm(g, dim=-1)
    zero = free & (norms <= torch.finfo(norms.dtype).tiny)
    if bool(zero.any()):
        b, i = (int(x) for x in torch.nonzero(zero)[0])
        raise SATNetError(
            f"SATNet: zero gradient norm ||g_i|| at the solution, variable {i}, batch element "
            f"{b}: the implicit backward divides by it; check that row {i} of S is not zero"
        )
    return norms


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
    the ||g_i|| of :func:`gradient_norms`. Each step sets
    u_o = -P_o (Psi s_o - ||s_o||^2 u_o - xi_o) / ||g_o|| with Psi = U^T S; an element stops once
    a sweep changes its U by at most ``eps`` relative to its size, or after ``max_iter`` sweeps.
    """
    batch = vectors.shape[0]
    order = torch.nonzero(free.any(0)).flatten().tolist()
    snorm = (S * S).sum(1)
    cols = list(torch.zeros_like(vectors).unbind(1))
    psi = torch.zeros(batch, vectors.shape[2], S.shape[1], dtype=S.dtype, device=S.device)
    active = torch.ones(batch, dtype=torch.bool, device=vectors.device)
    previous = torch.zeros_like(vectors)
    sweeps = 0
    while sweeps < max_iter and bool(active.any()):
        update = (free & active.unsqueeze(1)).unsqueeze(-1)
        for i in order:
            u, v, s = cols[i], vectors[:, i], S[i]
            dg = torch.matmul(psi, s) - snorm[i] * u - xi[:, i]
            dg = dg - (dg * v).sum(1, keepdim=True) * v
            u_new = torch.where(update[:, i], -dg / norms[:, i : i + 1], u)
            psi.add_((u_new - u).unsqueeze(-1) * s)
            cols[i] = u_new
        sweeps += 1
        current = torch.stack(cols, 1)
        change = torch.linalg.vector_norm((current - previous).flatten(1), dim=1)
        size = torch.linalg.vector_norm(current.flatten(1), dim=1)
        active = active & ~(change <= eps * size)
        previous = current
    return previous


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
