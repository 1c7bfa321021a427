"""Input checks shared by the torch and JAX SATNet layers (on NumPy copies of concrete values).

SATNet variables carry probabilities: a given value outside [0, 1] or NaN has no relaxation, and
the solver would turn it into NaN outputs and NaN (or silently zero) gradients downstream.
Values at positions that are not given are ignored, so NaN may mark them.
"""

from __future__ import annotations

import math

import numpy as np

from nesy_models.satnet.errors import SATNetError


def default_k(num_vars: int) -> int:
    """Embedding width for ``num_vars`` variables (truth direction included): ceil(sqrt(2N)) + 1.

    A rank-k solution of the SDP is globally optimal once k(k+1)/2 > N (Barvinok-Pataki).
    """
    return math.ceil(math.sqrt(2 * num_vars)) + 1


def check_shapes(z_shape: tuple, is_input_shape: tuple, n: int, where: str) -> None:
    """Raise unless ``z`` and ``is_input`` are both (batch, n)."""
    if len(z_shape) != 2 or z_shape[1] != n:
        raise SATNetError(f"{where}: z must have shape (batch, {n}), got {tuple(z_shape)}")
    if tuple(is_input_shape) != tuple(z_shape):
        raise SATNetError(
            f"{where}: is_input must have the shape of z {tuple(z_shape)}, "
            f"got {tuple(is_input_shape)}"
        )


def check_given_values(z: np.ndarray, is_input: np.ndarray, where: str) -> None:
    """Raise when a given value (``is_input`` true) is NaN, infinite or outside [0, 1]."""
    given = z[is_input]
    bad = ~np.isfinite(given) | (given < 0) | (given > 1)
    if bad.any():
        rows, cols = np.nonzero(is_input)
        first = int(np.argmax(bad))
        raise SATNetError(
            f"{where}: given probabilities must be finite and in [0, 1]; "
            f"{int(bad.sum())} are not, the first at batch {rows[first]}, variable {cols[first]} "
            f"(value {given[first]!r})"
        )
