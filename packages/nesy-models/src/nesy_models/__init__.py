"""nesy-models: tasks and models built on nesy-compile and nesy-torch.

This package will hold tasks, data loaders, the model families (DeepLog experiments, EM-NeSy,
Vi-SATNet, NeuroRule) and their training loops. None of that is written yet; today it only reports
its version.
"""

from importlib.metadata import version as _version

__version__ = _version("nesy-models")

__all__ = ["__version__"]
