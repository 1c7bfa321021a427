"""The smooth maximum over log-truths, ``tau * log(exp(a / tau) + exp(b / tau))``, as an
algebraic structure (NeuroRule's existential over intermediate entities)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..algebra import Algebra, Carrier
from ..algebras import REALS
from ..laws import SEMIRING


@dataclass(frozen=True)
class SmoothMax:
    """``tau * log(exp(a / tau) + exp(b / tau))`` on log-truths: the smooth maximum of ``a`` and
    ``b``, their maximum as tau -> 0 and ``logaddexp`` (the (+) of ``logprob``) at tau = 1.

    Computed as ``max(a, b) + tau * log1p(exp(-|a - b| / tau))``: exact where one side is -inf
    (the neutral), without overflow for large values, -inf for two -inf.
    """

    temperature: float

    def __call__(self, a: Any, b: Any) -> Any:
        t = self.temperature
        m = np.maximum(a, b)
        with np.errstate(invalid="ignore"):
            d = -np.abs(np.subtract(a, b))
        d = np.where(np.isnan(d), -np.inf, d)  # both -inf (or both inf): m is the value
        return m + t * np.log1p(np.exp(d / t))


#: The default temperature of :data:`SMOOTHMAX`.
SMOOTHMAX_TEMPERATURE = 0.1

#: The carrier of the smooth maximum: log-truths, the logarithms of non-negative scores (the
#: reals with -inf, the log of 0; finite above, as ``inf - inf`` would break the declared laws).
LOG_TRUTHS = Carrier("[-inf, R]", low=-np.inf, high=REALS.high)


def smoothmax_algebra(
    temperature: float = SMOOTHMAX_TEMPERATURE, name: str = "smoothmax"
) -> Algebra:
    """The smooth maximum with ``temperature`` tau: a log-space semiring on log-truths.

    Values are log-truths (``log`` of a probability or non-negative score, -inf for 0). (x) is
    ``+`` (the log of the product of the truths) and (+) is the smooth maximum
    ``a (+) b = tau * log(exp(a / tau) + exp(b / tau))``, so that aggregating a body over a
    variable gives ``tau * log sum exp(x / tau)``: the maximum of the log-products as tau -> 0
    (``maxprod`` in log space), the log of the sum-product at tau = 1, where the structure equals
    ``logprob`` (on its carrier). This is NeuroRule's existential over intermediate entities.

    Why an algebra and not a parameter of the plan: the registry is where structures declare
    their laws, and the rewrite engine gates every rule by them; as a structure, formulas in it
    are checked, printed, evaluated by enumeration and lifted like every other. The laws declared
    are those that hold, the semiring laws of ``logprob``: (+) and (x) are associative and
    commutative; -inf (``zero``) is the neutral of (+) and absorbs (x); 0 (``one``) is the neutral
    of (x); and (x) distributes over (+) (``a + smax(b, c) = smax(a + b, a + c)``), so the lifted
    plan eliminates variables greedily (a chain never builds more than two entity axes). (+) is
    not idempotent (``smax(a, a) = a + tau log 2``) and there is no negation. Register the result
    with :func:`nesy_ir.register_algebra` (or the ``nesy.algebras`` entry point) to use it.
    """
    if not temperature > 0:
        raise ValueError(f"the temperature of a smooth maximum must be positive, got {temperature}")
    return Algebra(
        name=name,
        carrier=LOG_TRUTHS,
        zero=-np.inf,
        one=0.0,
        plus=SmoothMax(float(temperature)),
        times=np.add,
        neg=None,
        aggregators={"smoothmax": "plus", "prod": "times"},
        laws=SEMIRING,
        description=(
            f"smooth maximum (temperature {temperature:g}) and + on log-truths [-inf, R]:"
            " a log-space semiring"
        ),
        symbols={"plus": "smax", "times": "*"},
    )


#: The smooth maximum at the default temperature (not registered by default: register it).
SMOOTHMAX = smoothmax_algebra()
