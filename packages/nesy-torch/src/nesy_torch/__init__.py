"""nesy-torch: nesy-ir circuits as PyTorch modules, and neural labelling functions.

``lower(circuit, labels, dynamic)`` gives a :class:`LoweredCircuit` module (the interface every
backend shares, :class:`nesy_ir.backends.LoweredCircuit`): on the CPU the whole pass in C where
its kernels allow (:class:`NativeCircuit`), else gather + reduce per layer, every built-in
structure, autograd, any device, ``torch.compile`` as an option, KLay as a fast path where it
applies; ``lower_cone`` evaluates only the roots each example asks for (training on an
observed answer). :class:`NeuralLabelling` maps input tensors to the labels of neural atoms and
:class:`NeuralCircuit` is networks + circuit (logic in the architecture; its ``semantic_loss``
puts logic in the loss). :func:`evaluate_plan` executes a lifted plan (:mod:`nesy_ir.lifted`):
formulas over whole domains as einsum contractions.
"""

from importlib.metadata import version as _version

from .cone import ConeCircuit, lower_cone
from .inference import posterior_marginals, posterior_matrix
from .kernels import register_kernel
from .lifted import evaluate_plan
from .lowered import LoweredCircuit
from .module import CircuitModule, lower
from .native_circuit import NativeCircuit
from .neural import NeuralCircuit, NeuralLabelling

__version__ = _version("nesy-torch")

__all__ = [
    "CircuitModule",
    "ConeCircuit",
    "LoweredCircuit",
    "NativeCircuit",
    "NeuralCircuit",
    "NeuralLabelling",
    "__version__",
    "evaluate_plan",
    "lower",
    "lower_cone",
    "posterior_marginals",
    "posterior_matrix",
    "register_kernel",
]
