"""nesy-jax: lowering of nesy-ir circuits to JAX, and neural labelling in JAX.

``lower(circuit, labels, dynamic)`` gives a :class:`LoweredCircuit` (the interface every backend
shares, :class:`nesy_ir.backends.LoweredCircuit`), a function of the dynamic labels usable under
``jax.jit``, ``jax.grad`` and ``jax.vmap``; :mod:`nesy_jax.kernels` holds the code of every
kernel (extend with :func:`register_kernel`); :class:`NeuralLabelling` and
:class:`NeuralCircuit` label atoms with networks' outputs, as in nesy-torch. Enable float64
with ``jax.config.update("jax_enable_x64", True)``. :func:`evaluate_plan` executes a lifted plan
(:mod:`nesy_ir.lifted`): formulas over whole domains as einsum contractions.
"""

from importlib.metadata import version as _version

from .inference import posterior_marginals, posterior_matrix
from .kernels import Reduction, register_kernel
from .lifted import evaluate_plan
from .lowering import LoweredCircuit, lower
from .neural import NeuralCircuit, NeuralLabelling

__version__ = _version("nesy-jax")

__all__ = [
    "LoweredCircuit",
    "NeuralCircuit",
    "NeuralLabelling",
    "Reduction",
    "__version__",
    "evaluate_plan",
    "lower",
    "posterior_marginals",
    "posterior_matrix",
    "register_kernel",
]
