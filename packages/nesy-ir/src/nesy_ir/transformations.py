"""The built-in transformations, as data."""

from __future__ import annotations

import numpy as np

from .transformation import Transformation


def _indicator(x):
    return np.asarray(x, dtype=float)


def _log_indicator(x):
    return np.where(np.asarray(x, dtype=bool), 0.0, -np.inf)


def _log(x):
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(x, dtype=float))


def _identity(x):
    return np.asarray(x, dtype=float)


_BOOLEAN_LIFT = {"times": "always", "plus": "deterministic", "neg": "always"}
_LATTICE_LIFT = {"times": "always", "plus": "always", "neg": "always"}

BUILTIN_TRANSFORMATIONS = (
    Transformation("bool", "prob", _indicator, _BOOLEAN_LIFT, True, "indicator: true -> 1"),
    Transformation("bool", "real", _indicator, _BOOLEAN_LIFT, True, "indicator: true -> 1"),
    Transformation(
        "bool", "logprob", _log_indicator, _BOOLEAN_LIFT, True, "true -> 0, false -> -inf"
    ),
    Transformation("bool", "maxprod", _indicator, _LATTICE_LIFT, True, "indicator: true -> 1"),
    Transformation("bool", "godel", _indicator, _LATTICE_LIFT, True, "crisp truth values"),
    Transformation("bool", "lukasiewicz", _indicator, _LATTICE_LIFT, True, "crisp truth values"),
    Transformation("bool", "product", _indicator, _LATTICE_LIFT, True, "crisp truth values"),
    Transformation("prob", "logprob", _log, _LATTICE_LIFT, True, "natural logarithm"),
    Transformation("logprob", "prob", np.exp, _LATTICE_LIFT, True, "exponential"),
    Transformation("prob", "real", _identity, _LATTICE_LIFT, True, "inclusion of [0, 1] in R"),
)
