"""nesy-models: tasks and models built on nesy-compile and nesy-torch (and nesy-jax).

- :mod:`nesy_models.data`: MNIST (IDX files or the embedded digits) and the task datasets;
- :mod:`nesy_models.tasks`: programs, their data and how their answers are read (MNIST
  addition, visual Sudoku); :mod:`nesy_models.models`: the network and circuit of a task
  (torch, and JAX in :mod:`nesy_models.models.jax_model`);
- :mod:`nesy_models.learners`: how a model is trained: backpropagation through the logic, or
  EM (EM-NeSy); :mod:`nesy_models.engines`: the E-step's inference engines (exact, bp, abc,
  and any registered through ``nesy.engines``);
- :mod:`nesy_models.experiment`: one DeepLog experiment, what ``nesy train`` runs;
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
    "LeNet": ".models",
    "TaskModel": ".models",
    "JaxTaskModel": ".models.jax_model",
    # learners
    "Split": ".learners",
    "TrainConfig": ".learners",
    "fit": ".learners",
    "evaluate": ".learners",
    "fit_jax": ".learners.jax_training",
    "evaluate_jax": ".learners.jax_training",
    # engines (the E-step of the em learner)
    "register_engine": ".engines",
    "engine_names": ".engines",
    # experiments (what ``nesy train`` runs)
    "RunConfig": ".experiment",
    "run": ".experiment",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

__all__ = ["__version__", *_EXPORTS]
