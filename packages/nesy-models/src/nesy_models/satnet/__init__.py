"""SATNet (Wang et al. 2019), a differentiable MaxSAT layer, in pure PyTorch and in JAX.

The torch layer (``SATNet``, ``satnet_solve``) needs only torch; the JAX one
(``satnet_solve_jax``, from :mod:`nesy_models.satnet.jax_layer`) is imported on first use and
needs the ``jax`` extra (``nesy-models[jax]``).
"""

from __future__ import annotations

from typing import Any

from nesy_ir.install import install_hint
from nesy_models.satnet.clauses import clause_matrix
from nesy_models.satnet.errors import SATNetError, SATNetWarning
from nesy_models.satnet.torch_layer import SATNet, satnet_solve, satnet_unrolled

__all__ = [
    "SATNet",
    "SATNetError",
    "SATNetWarning",
    "clause_matrix",
    "satnet_solve",
    "satnet_solve_jax",
    "satnet_unrolled",
]


def __getattr__(name: str) -> Any:
    if name == "satnet_solve_jax":
        try:
            from nesy_models.satnet.jax_layer import satnet_solve_jax
        except ImportError as error:  # pragma: no cover - depends on the environment
            hint = install_hint("nesy-models[jax]")
            raise ImportError(f"the JAX SATNet layer needs jax: {hint}") from error
        return satnet_solve_jax
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
