"""Lifted plans (:mod:`nesy_ir.lifted`) executed with PyTorch: einsum (batched matmul) for
sum-product steps and, through shifted exponentials, for the pairwise steps of the log-space
structures (``logprob``, the smooth maximum: :func:`nesy_ir.lifted.log_contract`); broadcasting
and a reduction per step for the other structures.

A relation may be given as a sparse COO tensor (``x.to_sparse()``, batch axis included): in the
sum-product structures a step with a sparse operand multiplies only its stored entries (a gather
of the other operand at their coordinates and a scatter-add into the result), so its cost grows
with the number of stored entries; the result of a step is dense. The other structures densify
sparse tensors first (their missing entries are the value 0, which is not the neutral of their
reduction in general).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from nesy_ir.lifted import Kernels, LiftedPlan, LogOps, log_reduce, run_plan


def _over_dims(reduce: Callable[[torch.Tensor, int], torch.Tensor]):
    """A reduction over several dimensions from one over a single dimension (last first)."""

    def run(x: torch.Tensor, axes: tuple[int, ...], temperature: float | None) -> torch.Tensor:
        for axis in sorted(axes, reverse=True):
            x = reduce(x, axis)
        return x

    return run


def _repair(under: torch.Tensor, value: torch.Tensor, exact) -> torch.Tensor:
    return torch.where(under, exact(), value) if bool(under.any()) else value


#: The operations of the log-space kernels (gradients do not flow through the shifts).
LOG_OPS = LogOps(
    amax=lambda x, axes: torch.amax(x, dim=axes, keepdim=True),
    sum=lambda x, axes: torch.sum(x, dim=axes, keepdim=True),
    exp=torch.exp,
    log=torch.log,
    where=torch.where,
    isfinite=torch.isfinite,
    detach=torch.Tensor.detach,
    floor=lambda x: torch.finfo(x.dtype).tiny / torch.finfo(x.dtype).eps,
    repair=_repair,
)


def _einsum(subscripts: str, *operands: torch.Tensor) -> torch.Tensor:
    """``torch.einsum``, with a path for one sparse COO operand of a pairwise step."""
    if not any(x.is_sparse for x in operands):
        return torch.einsum(subscripts, *operands)
    if len(operands) == 1:
        return torch.einsum(subscripts, operands[0].to_dense())
    inputs, out = subscripts.split("->")
    (sa, a), (sb, b) = sorted(
        zip(inputs.split(","), operands, strict=True), key=lambda t: not t[1].is_sparse
    )
    return _sparse_dense(sa, a.coalesce(), sb, b.to_dense() if b.is_sparse else b, out)


def _sparse_dense(sa: str, a: torch.Tensor, sb: str, b: torch.Tensor, out: str) -> torch.Tensor:
    """``einsum(sa + "," + sb + "->" + out, a, b)`` for a sparse ``a``: each stored entry of
    ``a`` times the slice of ``b`` at its coordinates, summed into the result (index_put)."""
    index, values = a.indices(), a.values()
    coordinate = {c: index[i] for i, c in enumerate(sa)}
    shared = [c for c in sb if c in sa]
    only_b = [c for c in sb if c not in sa]
    gathered = b.permute([sb.index(c) for c in shared + only_b])[
        tuple(coordinate[c] for c in shared)
    ]  # (entries, *only_b)
    terms = values.reshape(-1, *[1] * len(only_b)) * gathered
    dropped = [1 + i for i, c in enumerate(only_b) if c not in out]
    if dropped:
        terms = terms.sum(dim=dropped)
    from_a = [c for c in out if c in sa]
    kept_b = [c for c in only_b if c in out]
    size = {
        **{c: b.shape[i] for i, c in enumerate(sb)},
        **{c: a.shape[i] for i, c in enumerate(sa)},
    }
    result = terms.new_zeros([size[c] for c in from_a + kept_b])
    result = result.index_put(tuple(coordinate[c] for c in from_a), terms, accumulate=True)
    return result.permute([(from_a + kept_b).index(c) for c in out])


#: The kernels every step of a plan uses, by the names in :data:`nesy_ir.lifted.LIFTINGS`.
TORCH_KERNELS = Kernels(
    einsum=_einsum,
    permute=torch.permute,
    times={
        "multiply": torch.mul,
        "add": torch.add,
        "minimum": torch.minimum,
        "and": torch.logical_and,
        "luk_and": lambda a, b: torch.clamp(a + b - 1.0, min=0.0),
    },
    reductions={
        "sum": lambda x, axes, t: torch.sum(x, dim=axes),
        "max": lambda x, axes, t: torch.amax(x, dim=axes),
        "any": _over_dims(lambda x, d: torch.any(x, dim=d)),
        "logsumexp": lambda x, axes, t: log_reduce(LOG_OPS, x, axes),
        "smoothmax": lambda x, axes, t: log_reduce(LOG_OPS, x, axes, t),
        "prob_or": lambda x, axes, t: (
            1.0 - _over_dims(lambda y, d: torch.prod(y, dim=d))(1.0 - x, axes, t)
        ),
        "luk_or": lambda x, axes, t: torch.clamp(torch.sum(x, dim=axes), max=1.0),
    },
    log=LOG_OPS,
)


def evaluate_plan(plan: LiftedPlan, tensors: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The value of ``plan`` on the label tensors (by predicate), shape ``(B, *free sizes)``;
    differentiable with respect to the tensors (sparse ones: their stored values)."""
    if not plan.lifting.einsum:
        tensors = {p: x.to_dense() if x.is_sparse else x for p, x in tensors.items()}
    value = run_plan(plan, tensors, TORCH_KERNELS)
    return value.to_dense() if value.is_sparse else value  # a plan of no steps: its one input
