"""nesy-torch: nesy-ir circuits as PyTorch modules, and neural labelling functions.

``lower(circuit, labels, dynamic)`` gives a :class:`CircuitModule` (gather + reduce per layer,
every built-in structure, autograd, any device, ``torch.compile`` as an option, KLay as a fast
path where it applies). :mod:`nesy_torch.neural` maps input tensors to the labels of neural
atoms, for logic in the architecture and logic in the loss.
"""

from importlib.metadata import version as _version

from .kernels import register_kernel
from .module import CircuitModule, lower

__version__ = _version("nesy-torch")

__all__ = ["CircuitModule", "__version__", "lower", "register_kernel"]
