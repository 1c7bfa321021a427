"""The abc engine: rejection sampling (approximate Bayesian computation).

Draw K assignments of the symbols from the network's distribution, run the task's symbolic part
(a plain NumPy function: the sum, a Sudoku checker) on each, and keep the draws that reproduce
the observed answer: they are samples of the posterior, and their frequencies its marginals.
No draw accepted (an answer too unlikely for K draws): the example keeps its prior (so the M-step
leaves it unchanged) and is marked ``fallback``; the learner counts them.

The ``abc-nearest`` engine (:func:`nearest`) is ABC with an adaptive tolerance instead: it keeps
the draws whose answer is nearest the observed one (the task's ``distance``, by default the
fewest answer groups wrong: result digits of a carry sum; for Sudoku the fewest violated pairs
of a board observed valid), which are exactly the accepted draws whenever one reproduces the answer.
An untrained network, whose draws almost never reproduce a many-digit sum, so still gets a
signal: the digits of draws that get most of the sum right. With a one-group answer and no
distance of the task's own (a standard sum) the nearest draws are all the draws when none
hits: the prior again.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ..tasks import Task
from .posterior import EngineError, Posterior, with_prior_where

SAMPLES = 1000


def rejection(
    task: Task,
    probs: torch.Tensor,
    targets: torch.Tensor,
    *,
    samples: int = SAMPLES,
    generator: torch.Generator | None = None,
    nearest: bool = False,
) -> Posterior:
    """Posterior marginals (B, P, C) of the symbols given the answers (B, G) from ``samples``
    draws per example; ``samples`` of the Posterior: one accepted draw per example (S = 1),
    ``mpe``: the most frequent accepted draw. ``nearest``: accept the draws nearest the answer
    (the ``abc-nearest`` engine)."""
    if task.symbolic is None:
        raise EngineError(f"the abc engine needs the symbolic part of task {task.name}")
    if samples < 1:
        raise EngineError(f"the abc engine needs at least 1 sample, got {samples}")
    probs = probs.detach()
    batch, positions, classes = probs.shape
    flat = probs.reshape(-1, classes).float()
    draws = torch.multinomial(flat, samples, replacement=True, generator=generator)  # (B*P, K)
    draws = draws.view(batch, positions, samples).permute(0, 2, 1)  # (B, K, P)
    misses = _distance(task, draws, targets)  # (B, K)
    accepted = misses == (misses.min(1, keepdim=True).values if nearest else 0)
    counts = accepted.sum(1)
    fallback = counts == 0
    weights = accepted.to(probs.dtype)
    hits = probs.new_zeros(batch, positions, classes)  # accepted draws of each class
    hits.scatter_add_(2, draws.transpose(1, 2), weights[:, None, :].expand(-1, positions, -1))
    marginals = hits / counts.clamp_min(1)[:, None, None]
    marginals = with_prior_where(marginals, probs, fallback)
    pick = torch.multinomial(weights + fallback[:, None].to(probs.dtype), 1, generator=generator)
    sample = draws.gather(1, pick[:, :, None].expand(-1, -1, positions))[:, 0]  # (B, P)
    mpe = functools.partial(_most_frequent, draws, accepted)  # computed when asked for
    acceptance = counts.to(probs.dtype) / samples
    return Posterior(marginals, fallback, samples=sample[None], mpe=mpe, acceptance=acceptance)


def _distance(task: Task, draws: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(B, K): each draw's distance from its answer: the task's own (Sudoku: the violated
    pairs of a board observed valid), else the number of answer groups it gets wrong."""
    if task.distance is not None:
        far = task.distance(draws.cpu().numpy(), targets.cpu().numpy())
        return torch.as_tensor(far, device=draws.device)
    answers = torch.as_tensor(task.symbolic(draws.cpu().numpy()), device=draws.device)
    return (answers != targets[:, None, :]).sum(-1)


def nearest(task: Task, probs: torch.Tensor, targets: torch.Tensor, **options) -> Posterior:
    """The ``abc-nearest`` engine: :func:`rejection` keeping the draws nearest the answer."""
    return rejection(task, probs, targets, nearest=True, **options)


def _most_frequent(draws: torch.Tensor, accepted: torch.Tensor) -> torch.Tensor:
    """(B, P): each example's most frequent accepted draw (its first draw when none is)."""
    out = draws[:, 0].clone()
    for b, (rows, keep) in enumerate(zip(draws.cpu().numpy(), accepted.cpu().numpy(), strict=True)):
        if keep.any():
            kept, counts = np.unique(rows[keep], axis=0, return_counts=True)
            out[b] = torch.as_tensor(kept[counts.argmax()])
    return out
