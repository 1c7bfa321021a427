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

from nesy_ir.facade import lazy_exports

__version__ = _version("nesy-models")

#: The public names: tasks, models, learners and experiments, imported on first use.
_EXPORTS = {
    # tasks
    "Task": ".tasks",
    "mnist_addition": ".tasks",
    "sudoku": ".tasks",
    # models
    "LeNet": ".networks",
    "TaskModel": ".model",
    "JaxTaskModel": ".jax_model",
    # learners
    "Split": ".train",
    "TrainConfig": ".train",
    "fit": ".train",
    "evaluate": ".train",
    "fit_jax": ".jax_model",
    "evaluate_jax": ".jax_model",
    # experiments (what ``nesy train`` runs)
    "RunConfig": ".experiment",
    "run": ".experiment",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

__all__ = ["__version__", *_EXPORTS]
