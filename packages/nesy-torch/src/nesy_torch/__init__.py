"""nesy-torch: lowering of nesy-ir circuits to PyTorch.

This package will hold the torch backend (per-layer gather + segment reduce as an ``nn.Module``,
with KLay as an optional fast path via the ``klay`` extra) and neural labelling functions. None of
that is written yet; today it only reports its version.
"""

from importlib.metadata import version as _version

__version__ = _version("nesy-torch")

__all__ = ["__version__"]
