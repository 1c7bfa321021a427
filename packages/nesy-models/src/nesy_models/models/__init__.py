"""Models: the perception network (:mod:`.networks`), the network and circuit of a task on torch
(:mod:`.torch_model`) and on JAX (:mod:`.jax_model`, imported on use: it needs the ``jax``
extra)."""

from .networks import LeNet, TaskHead, classify
from .torch_model import EPS, Output, TaskModel

__all__ = ["EPS", "LeNet", "Output", "TaskHead", "TaskModel", "classify"]
