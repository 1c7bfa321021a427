"""What an inference engine returns: per-example posteriors over the task's neural symbols."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nesy_ir.errors import NesyError

if TYPE_CHECKING:
    import torch


class EngineError(NesyError):
    """An inference engine that is unknown, or that cannot serve a task."""


@dataclass
class Posterior:
    """The posterior over the symbols of a batch given the observed answers.

    ``marginals`` (B, P, C): each symbol's posterior distribution; ``samples`` (S, B, P) class
    indices of joint posterior samples, and ``mpe`` (B, P) the most probable joint assignment
    (or a function computing it, when it costs more than the rest), where the engine gives
    them; ``fallback`` (B,) bool: examples whose posterior is the prior (their answer had
    probability 0 under the network, or no sample reproduced it: the E-step then leaves that
    example's network unchanged, to first order); ``acceptance`` (B,): a sampling engine's
    share of draws kept per example.
    """

    marginals: torch.Tensor
    fallback: torch.Tensor
    samples: torch.Tensor | None = None
    mpe: torch.Tensor | Callable[[], torch.Tensor] | None = None
    acceptance: torch.Tensor | None = None

    def most_probable(self) -> torch.Tensor:
        """(B, P): the engine's MPE where it gives one, else each symbol's most probable class."""
        if self.mpe is None:
            return self.marginals.argmax(-1)
        return self.mpe() if callable(self.mpe) else self.mpe


def with_prior_where(marginals, prior, fallback):
    """``marginals`` with the examples of ``fallback`` (B,) replaced by ``prior`` (B, P, C)."""
    import torch

    return torch.where(fallback[:, None, None], prior, marginals)
