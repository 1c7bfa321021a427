"""Lifted formulas: formulas over whole domains evaluated as tensor contractions, without grounding.

In three modules: :mod:`.plan` (the plan of a formula, and how each structure is lifted),
:mod:`.execute` (the kernels, the log-space contractions, the NumPy executor) and
:mod:`.smoothmax` (the smooth maximum as a structure).

A *lifted* formula is built from atoms whose arguments are regular variables (``r(X, Z)``),
products (the structure's (x)) and aggregations by (+) over those variables, e.g. NeuroRule's
chain ``sum_Z2 ... sum_Zk p1(X, Z2) * p2(Z2, Z3) * ... * pk(Zk, Y)``. The label of a predicate
with k arguments is one tensor of shape ``(B, |D_1|, ..., |D_k|)`` (batch first): entry
``[b, i, j]`` is the label of ``r(d_i, d_j)``, where ``d_i`` is the i-th constant of the domain.

:func:`lifted_plan` turns such a formula into a :class:`LiftedPlan`: a short sequence of
:class:`Step` s, each a pairwise product of two tensors followed by the reduction of some axes
(einsum-like), or a reduction (or transposition) of one tensor. Where the structure declares that
(x) distributes over (+) (``times.distributes``), every aggregation may be moved to the front and
the variables are eliminated greedily, the one whose elimination builds the smallest tensor first
(variable elimination): a chain of binary relations never builds more than two entity axes. Where
it does not (Lukasiewicz, product logic), the plan follows the formula as written: the body of an
aggregation is multiplied out before its variable is reduced, which is exact but may build larger
tensors. The smooth maximum (:func:`smoothmax_algebra`) is a log-space semiring, so it is
eliminated greedily like ``logprob``.

:func:`evaluate_plan` is the NumPy reference executor; nesy-torch and nesy-jax execute the same
plan through :func:`run_plan` with their own :class:`Kernels`. A pairwise step of a log-space
structure (``logprob``, the smooth maximum) that reduces axes is one einsum of shifted exponentials
(:func:`log_contract`), not a broadcast product; entries whose exponentials underflow are
recomputed by broadcasting. What the lifted path cannot take
(negation, (+) between formulas, constants, transformations, reification, constant arguments,
repeated variables, aggregation by (x), a structure without a lifting) is refused with a
:class:`LiftingError` naming the node.
"""

from __future__ import annotations

from .execute import (
    NUMPY_KERNELS,
    Kernels,
    LogOps,
    array_kernels,
    array_log_ops,
    check_tensors,
    evaluate_plan,
    log_contract,
    log_reduce,
    run_plan,
)
from .plan import LIFTINGS, Factor, LiftedPlan, Lifting, LiftingError, Step, lifted_plan, lifting_of
from .smoothmax import LOG_TRUTHS, SMOOTHMAX, SMOOTHMAX_TEMPERATURE, SmoothMax, smoothmax_algebra

__all__ = [
    "LIFTINGS",
    "LOG_TRUTHS",
    "NUMPY_KERNELS",
    "SMOOTHMAX",
    "SMOOTHMAX_TEMPERATURE",
    "array_kernels",
    "array_log_ops",
    "check_tensors",
    "evaluate_plan",
    "Factor",
    "Kernels",
    "lifted_plan",
    "LiftedPlan",
    "Lifting",
    "lifting_of",
    "LiftingError",
    "log_contract",
    "log_reduce",
    "LogOps",
    "run_plan",
    "SmoothMax",
    "smoothmax_algebra",
    "Step",
]
