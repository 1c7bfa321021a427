"""Learners: how a task's model is trained. :mod:`.training` holds the loop every learner shares
(batches, AdamW, early stopping, checkpoints, DDP); :mod:`.backprop` and :mod:`.em` the step of
each learner; :mod:`.jax_training` the loop on JAX (backprop), imported on use."""

from .backprop import Backprop
from .em import EM, e_step, m_step_loss, m_step_target
from .training import History, Split, TrainConfig, evaluate, fit, learning_rate, make_learner

__all__ = [
    "EM",
    "Backprop",
    "History",
    "Split",
    "TrainConfig",
    "e_step",
    "evaluate",
    "fit",
    "learning_rate",
    "m_step_loss",
    "m_step_target",
    "make_learner",
]
