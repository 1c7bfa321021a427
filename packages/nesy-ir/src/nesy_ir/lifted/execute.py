"""Executing lifted plans: the kernels of a backend, the log-space contractions, and the NumPy
reference executor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import LabelError
from ..registry import get_algebra
from .plan import LiftedPlan, Lifting, Step

Reduction = Callable[[Any, tuple[int, ...], "float | None"], Any]


@dataclass(frozen=True)
class LogOps:
    """The array operations of the log-space kernels (:func:`log_reduce`, :func:`log_contract`).

    ``amax(x, axes)`` and ``sum(x, axes)`` keep the reduced axes (size 1); ``detach(x)`` stops
    gradients; ``floor(x)`` is the smallest sum of exponentials trusted to full precision in
    ``x``'s dtype; ``repair(under, value, exact)`` replaces the entries of ``value`` where
    ``under`` holds by those of ``exact()``, calling it only when some entry needs it.
    """

    amax: Callable[[Any, tuple[int, ...]], Any]
    sum: Callable[[Any, tuple[int, ...]], Any]
    exp: Callable[[Any], Any]
    log: Callable[[Any], Any]
    where: Callable[[Any, Any, Any], Any]
    isfinite: Callable[[Any], Any]
    detach: Callable[[Any], Any]
    floor: Callable[[Any], float]
    repair: Callable[[Any, Any, Callable[[], Any]], Any]


@dataclass(frozen=True)
class Kernels:
    """What an executor needs from an array library.

    ``einsum(subscripts, *operands)``; ``permute(x, perm)``; ``times[name](a, b)`` pointwise;
    ``reductions[name](x, axes, temperature)`` the (+) reduction over ``axes``; ``log`` the
    operations of the log-space kernels (without them, log-space steps broadcast).
    """

    einsum: Callable[..., Any]
    permute: Callable[[Any, tuple[int, ...]], Any]
    times: Mapping[str, Callable[[Any, Any], Any]]
    reductions: Mapping[str, Reduction]
    log: LogOps | None = None


def _squeeze(x: Any, axes: tuple[int, ...]) -> Any:
    """``x`` without its (size-1) ``axes``, by indexing (the same in every array library)."""
    return x[tuple(0 if d in axes else slice(None) for d in range(len(x.shape)))]


def _shift(ops: LogOps, x: Any, axes: tuple[int, ...]) -> Any:
    """The maximum of ``x`` over ``axes`` (kept, size 1), 0 where it is not finite (all -inf),
    without gradient: the shift of a stable logsumexp (the value does not depend on it)."""
    m = ops.amax(x, axes) if axes else x
    return ops.detach(ops.where(ops.isfinite(m), m, 0.0))


def _log_of(ops: LogOps, s: Any, temperature: float, shift: Any) -> Any:
    """``temperature * log(s) + shift``, -inf where ``s`` is 0 with zero (not NaN) gradients."""
    positive = s > 0
    value = temperature * ops.log(ops.where(positive, s, 1.0)) + shift
    return ops.where(positive, value, -np.inf)


def log_reduce(ops: LogOps, x: Any, axes: tuple[int, ...], temperature: float = 1.0) -> Any:
    """``temperature * log sum exp(x / temperature)`` over ``axes``: -inf (gradient 0) where
    every entry is -inf."""
    m = _shift(ops, x, axes)
    s = ops.sum(ops.exp((x - m) / temperature), axes)
    return _squeeze(_log_of(ops, s, temperature, m), axes)


def log_contract(
    step: Step,
    a: Any,
    b: Any,
    temperature: float,
    kernels: Kernels,
    exact: Callable[[], Any] | None = None,
) -> Any:
    """A pairwise log-space step ``tau * log sum_reduce exp((a + b) / tau)`` as one einsum,
    without the broadcast product: ``tau * log(einsum(exp((a - m_a) / tau), exp((b - m_b) /
    tau))) + m_a + m_b``, ``m`` the maximum of each operand over its reduced axes (0 where all
    -inf). An entry whose sum of exponentials underflows (below ``floor``) although some term
    is finite, is recomputed by ``exact()`` (the broadcast step), when given."""
    ops = kernels.log
    assert ops is not None
    shifted, shifts, masks = [], [], []
    for x, axes in zip((a, b), step.inputs_axes, strict=True):
        reduced = tuple(1 + k for k, v in enumerate(axes) if v in step.reduce)
        m = _shift(ops, x, reduced)
        shifted.append(ops.exp((x - m) / temperature))
        kept = tuple(v for v in axes if v not in step.reduce)
        shifts.append(_onto(_squeeze(m, reduced), kept, step.out_axes, kernels.permute))
        masks.append(ops.where(ops.isfinite(x), 1.0, 0.0))
    s = kernels.einsum(step.subscripts, *shifted)
    value = _log_of(ops, s, temperature, shifts[0] + shifts[1])
    if exact is None:
        return value
    under = (s < ops.floor(s)) & (kernels.einsum(step.subscripts, *masks) > 0)
    return ops.repair(under, value, exact)


def _onto(x: Any, axes: tuple[str, ...], target: tuple[str, ...], permute: Callable) -> Any:
    """``x`` (batch, then ``axes``) broadcastable onto (batch, then ``target``)."""
    perm = (0, *(1 + axes.index(v) for v in target if v in axes))
    return permute(x, perm)[(slice(None), *(slice(None) if v in axes else None for v in target))]


def check_tensors(plan: LiftedPlan, tensors: Mapping[str, Any]) -> list[Any]:
    """The factors' tensors in register order; a :class:`LabelError` names a missing or
    misshapen one (the predicate, its shape and the expected one)."""
    batch: tuple[int, str] | None = None
    out = []
    for f in plan.factors:
        if f.predicate not in tensors:
            raise LabelError(f"no label tensor for predicate {f.predicate}")
        x = tensors[f.predicate]
        shape = tuple(int(n) for n in x.shape)
        expected = plan.expected_shape(f.predicate)
        if len(shape) != 1 + len(expected) or shape[1:] != expected:
            where = f"{f.predicate}({', '.join(f.axes)})" if f.axes else f.predicate
            dims = ", ".join(["B", *(str(n) for n in expected)])
            raise LabelError(
                f"label tensor of {f.predicate} has shape {shape}: expected ({dims}) for {where}"
            )
        if batch is None:
            batch = (shape[0], f.predicate)
        elif shape[0] != batch[0]:
            raise LabelError(
                f"label tensor of {f.predicate} has batch size {shape[0]}, but that of"
                f" {batch[1]} has {batch[0]}"
            )
        out.append(x)
    return out


def run_plan(plan: LiftedPlan, tensors: Mapping[str, Any], kernels: Kernels) -> Any:
    """Execute ``plan`` on ``tensors`` (by predicate) with an array library's ``kernels``."""
    registers = check_tensors(plan, tensors)
    lifting = plan.lifting
    for step in plan.steps:
        inputs = [registers[i] for i in step.inputs]
        if lifting.einsum:
            registers.append(kernels.einsum(step.subscripts, *inputs))
        elif lifting.log_space and kernels.log is not None and len(inputs) == 2 and step.reduce:
            exact = _broadcast_step(step, inputs, lifting, kernels)
            registers.append(log_contract(step, *inputs, lifting.scale, kernels, exact))
        else:
            registers.append(_broadcast_step(step, inputs, lifting, kernels)())
    return registers[plan.output]


def _broadcast_step(
    step: Step, inputs: list[Any], lifting: Lifting, kernels: Kernels
) -> Callable[[], Any]:
    """The step computed on the broadcast product of its inputs (all joint axes), as a thunk."""

    def run() -> Any:
        aligned = []
        for i, x in enumerate(inputs):
            perm, index = step.alignment(i)
            aligned.append(kernels.permute(x, perm)[index])
        value = aligned[0]
        if len(aligned) == 2:
            value = kernels.times[lifting.times](aligned[0], aligned[1])
        if step.reduce:
            value = kernels.reductions[lifting.plus](value, step.reduced, lifting.temperature)
        return value

    return run


def _floor(finfo: Callable[[Any], Any]) -> Callable[[Any], float]:
    """Below ``tiny / eps`` a sum of exponentials may have lost terms to underflow."""

    def floor(x: Any) -> float:
        info = finfo(x.dtype)
        return float(info.tiny) / float(info.eps)

    return floor


def _repair_eager(under: Any, value: Any, exact: Callable[[], Any], where: Callable) -> Any:
    return where(under, exact(), value) if bool(under.any()) else value


def array_log_ops(
    xp: Any,
    detach: Callable[[Any], Any] = lambda x: x,
    repair: Callable[[Any, Any, Callable[[], Any]], Any] | None = None,
) -> LogOps:
    """The log-space operations of a NumPy-like namespace (``numpy``, ``jax.numpy``)."""

    def where(c, x, y):
        return xp.where(c, x, y)

    return LogOps(
        amax=lambda x, axes: xp.max(x, axis=axes, keepdims=True),
        sum=lambda x, axes: xp.sum(x, axis=axes, keepdims=True),
        exp=xp.exp,
        log=xp.log,
        where=where,
        isfinite=xp.isfinite,
        detach=detach,
        floor=_floor(xp.finfo),
        repair=repair or (lambda under, value, exact: _repair_eager(under, value, exact, where)),
    )


def array_kernels(xp: Any, log: LogOps | None = None) -> Kernels:
    """Kernels from a NumPy-like namespace (``numpy``, ``jax.numpy``); ``log``: its log-space
    operations (by default :func:`array_log_ops`, without gradients)."""
    ops = log or array_log_ops(xp)

    return Kernels(
        einsum=xp.einsum,
        permute=xp.transpose,
        times={
            "multiply": xp.multiply,
            "add": xp.add,
            "minimum": xp.minimum,
            "and": xp.logical_and,
            "luk_and": lambda a, b: xp.maximum(0.0, a + b - 1.0),
        },
        reductions={
            "sum": lambda x, axes, t: xp.sum(x, axis=axes),
            "max": lambda x, axes, t: xp.max(x, axis=axes),
            "any": lambda x, axes, t: xp.any(x, axis=axes),
            "logsumexp": lambda x, axes, t: log_reduce(ops, x, axes),
            "smoothmax": lambda x, axes, t: log_reduce(ops, x, axes, t),
            "prob_or": lambda x, axes, t: 1.0 - xp.prod(1.0 - x, axis=axes),
            "luk_or": lambda x, axes, t: xp.minimum(1.0, xp.sum(x, axis=axes)),
        },
        log=ops,
    )


NUMPY_KERNELS = array_kernels(np)


def evaluate_plan(plan: LiftedPlan, tensors: Mapping[str, Any], xp: Any = np) -> Any:
    """The NumPy reference executor: the value of ``plan``, shape ``(B, *sizes of plan.free)``.

    Tensors are coerced to the structure's carrier dtype (NumPy only). ``xp`` may be another
    NumPy-like namespace (``jax.numpy``).
    """
    if xp is np:
        carrier = get_algebra(plan.structure).carrier
        tensors = {p: carrier.coerce(x) for p, x in tensors.items()}
        return run_plan(plan, tensors, NUMPY_KERNELS)
    return run_plan(plan, tensors, array_kernels(xp))
