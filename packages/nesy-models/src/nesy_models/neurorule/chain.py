"""The smooth existential of a chain rule's body, in log space (NeuroRule, WORKED_EXAMPLES 6).

A chain rule ``R(z1, zk+1) :- P1(z1, z2), ..., Pk(zk, zk+1)`` is true of (s, o) when some
intermediate entities make every step true. NeuroRule takes the max over z2..zk of the product
of the steps' truths (product t-norm), made smooth as ``tau * logsumexp(log product / tau)``.
Over log truths that smooth max is associative, so a chain of slot matrices is a sequence of
*log-matmul-exp* products, one per intermediate variable:

    log body = M1 (x) M2 (x) ... (x) Mk,
    (A (x) B)[i, j] = tau * logsumexp_z((A[i, z] + B[z, j]) / tau)

which equals the smooth max over all paths at once. ``tau = 1`` is the sum-product (the log of
Neural LP's weighted path count); ``tau -> 0`` the max-product (the hard existential).
"""

from __future__ import annotations

import torch

__all__ = ["LOG_FLOOR", "chain_log_body", "log_matmul_exp", "log_truth"]

#: The log truth of "false": log 0 clamped, so that logsumexp never sees only -inf (NaN gradients).
LOG_FLOOR = -60.0


def log_truth(truth: torch.Tensor) -> torch.Tensor:
    """``log(truth)``, with 0 (and anything below e^LOG_FLOOR) at :data:`LOG_FLOOR`."""
    return torch.log(truth.clamp_min(torch.finfo(truth.dtype).tiny)).clamp_min(LOG_FLOOR)


def log_matmul_exp(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    """``tau * logsumexp_z((a[..., i, z] + b[..., z, j]) / tau)`` for log truths ``a`` (..., n, k)
    and ``b`` (..., k, m), by one real matrix product of shifted exponentials (no (n, k, m)
    tensor). An entry whose every term underflows, after shifting by the row max of ``a`` and
    the column max of ``b``, is :data:`LOG_FLOOR`: a chain that no path supports."""
    a_max = a.detach().amax(dim=-1, keepdim=True)
    b_max = b.detach().amax(dim=-2, keepdim=True)
    total = torch.exp((a - a_max) / tau) @ torch.exp((b - b_max) / tau)
    tiny = torch.finfo(total.dtype).tiny
    value = tau * torch.log(total.clamp_min(tiny)) + a_max + b_max
    return torch.where(total > tiny, value, torch.full_like(value, LOG_FLOOR)).clamp_min(LOG_FLOOR)


def chain_log_body(log_slots: torch.Tensor, tau: float) -> torch.Tensor:
    """The log smooth-max body of chain rules: ``log_slots`` (..., k, E, E) holds each slot's
    log soft relation; returns (..., E, E), the body for every (s, o) at once."""
    body = log_slots[..., 0, :, :]
    for step in range(1, log_slots.shape[-3]):
        body = log_matmul_exp(body, log_slots[..., step, :, :], tau)
    return body
