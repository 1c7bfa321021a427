"""nesy-jax: lowering of nesy-ir circuits to JAX.

This package will hold the JAX backend (per-layer gather + segment ops, usable under jit, grad and
vmap). None of that is written yet; today it only reports its version.
"""

from importlib.metadata import version as _version

__version__ = _version("nesy-jax")

__all__ = ["__version__"]
