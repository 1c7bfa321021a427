"""nesy-models: tasks and models built on nesy-compile and nesy-torch (and nesy-jax).

- :mod:`nesy_models.data`: MNIST (IDX files or the embedded digits) and the task datasets;
- :mod:`nesy_models.tasks`, :mod:`nesy_models.model`, :mod:`nesy_models.train`: the DeepLog
  experiments (MNIST addition, visual Sudoku) under every semantics and logic placement;
  :mod:`nesy_models.jax_model` the same on JAX;
- :mod:`nesy_models.satnet`: SATNet in pure PyTorch and JAX; :mod:`nesy_models.visatnet`:
  Vi-SATNet;
- the ``nesy train`` / ``nesy demo mnist-addition`` commands (:mod:`nesy_models.cli`).
"""

from importlib.metadata import version as _version

__version__ = _version("nesy-models")

__all__ = ["__version__"]
