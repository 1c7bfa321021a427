"""The EM learner (EM-NeSy): an E-step by any inference engine, an M-step through the network
only.

E-step (no gradients): the network's distribution over each symbol of a batch and the observed
answers go to the engine, which returns the posterior over the symbols. M-step: cross-entropy of
the network's log-distribution against a target from that posterior, ``m_steps`` optimiser steps:

- ``soft``: the posterior marginals. With the exact engine, the first M-step's gradient is that
  of -log P(y|x) through the circuit: d(-log P(y|x))/d logits = prior - posterior. (Where the
  answer has several groups, backprop's loss is the sum of each group's -log P; EM conditions
  on the whole answer.)
- ``hard``: the MPE where the engine gives one (abc: the most frequent accepted draw), else each
  symbol's most probable value.
- ``stochastic``: one posterior sample where the engine gives them (abc: an accepted draw), else
  each symbol sampled from its marginal.

The symbolic side needs no gradient; the E-step's time (the engine's) and the M-step's (the
network's) are recorded apart. One forward pass of the network serves both the E-step (its
output detached) and the first M-step, so soft EM with one M-step costs one network pass, as
backpropagation does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ..engines import Posterior, get_engine
from ..models import TaskModel
from ..options import EM_VARIANTS
from ..tasks import Task


@dataclass
class EM:
    """EM with ``engine`` (a registered name), the ``variant`` target, ``samples`` for sampling
    engines, ``m_steps`` optimiser steps per E-step, ``balance`` the weight of the M-step's
    class-balance term (:func:`m_step_loss`); ``fallbacks`` counts the examples whose E-step
    kept the prior (no evidence for their answer)."""

    engine: str = "exact"
    variant: str = "soft"
    samples: int = 1000
    m_steps: int = 1
    seed: int = 0
    balance: float = 0.0
    fallbacks: int = 0
    _generators: dict = field(default_factory=dict, repr=False)

    def step(
        self,
        model: TaskModel,
        net: torch.nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        optimiser: torch.optim.Optimizer,
        step: int,
    ) -> dict[str, float]:
        """Train on one batch: E-step, then ``m_steps`` M-steps; the batch's M-step loss and the
        seconds of each part (the E-step's: the engine's; the network's forward pass, whose
        detached output the engine reads, is the first M-step's). ``net`` is ``model`` or its
        data-parallel wrapper."""
        began = time.perf_counter()
        out = net(images, network_only=True)
        forward = time.perf_counter() - began
        began = time.perf_counter()
        generator = self.generator(images.device, step)
        posterior = e_step(model.task, self.engine, out.digits, targets, self.samples, generator)
        target = m_step_target(posterior, self.variant, generator)
        fallbacks = int(posterior.fallback.sum())
        self.fallbacks += fallbacks
        accepted = posterior.acceptance
        accepted = {} if accepted is None else {"accepted": float(accepted.sum())}
        _synchronise(images.device)
        e_seconds = time.perf_counter() - began
        began = time.perf_counter()
        for k in range(self.m_steps):
            if k > 0:
                out = net(images, network_only=True)
            loss = m_step_loss(out.digit_logits, target, self.balance)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        _synchronise(images.device)
        return {
            "loss": loss.item(),
            "e_step_seconds": e_seconds,
            "m_step_seconds": forward + time.perf_counter() - began,
            "fallbacks": fallbacks,
        } | accepted

    def generator(self, device: torch.device, step: int) -> torch.Generator:
        """The draws of global step ``step``, from (seed, step): a resumed run draws the same."""
        if device not in self._generators:
            self._generators[device] = torch.Generator(device)
        return self._generators[device].manual_seed(self.seed * 1_000_003 + step)


def e_step(
    task: Task,
    engine: str,
    probs: torch.Tensor,
    targets: torch.Tensor,
    samples: int = 1000,
    generator: torch.Generator | None = None,
) -> Posterior:
    """The posterior over the symbols (B, P, C) given the answers (B, G), by ``engine``."""
    with torch.no_grad():
        return get_engine(engine, task)(
            task, probs.detach(), targets, samples=samples, generator=generator
        )


def m_step_target(
    posterior: Posterior, variant: str, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The distribution (B, P, C) the M-step fits, under ``variant`` (see the module)."""
    marginals = posterior.marginals
    classes = marginals.shape[-1]
    if variant == "soft":
        return marginals
    if variant == "hard":
        chosen = posterior.most_probable()
    elif variant == "stochastic":
        if posterior.samples is not None:
            chosen = posterior.samples[0]
        else:
            flat = marginals.reshape(-1, classes).float()
            chosen = torch.multinomial(flat, 1, generator=generator).view(marginals.shape[:-1])
    else:
        raise ValueError(f"unknown EM variant {variant!r} (known: {', '.join(EM_VARIANTS)})")
    return torch.nn.functional.one_hot(chosen, classes).to(marginals.dtype)


def m_step_loss(logits: torch.Tensor, target: torch.Tensor, balance: float = 0.0) -> torch.Tensor:
    """Cross-entropy of the network's logits (B, P, C) against the target (B, P, C): summed
    over the symbols, averaged over the batch (the scale of -log P(y|x)); minus ``balance``
    times P times the entropy of the batch's mean class distribution, where ``balance`` > 0.

    The balance term keeps every class in use: a sampling engine only ever tries the classes
    the network still gives mass to, so once it merges two (terrain maps: grass into plain),
    no draw can show that they differ, and EM stays there (the EM-NeSy shortest paths)."""
    log_p = logits.log_softmax(-1)
    loss = -(target * log_p).sum((1, 2)).mean()
    if balance:
        mean = log_p.exp().mean((0, 1))
        loss = loss + balance * logits.shape[1] * (mean * mean.clamp_min(1e-12).log()).sum()
    return loss


def _synchronise(device: torch.device) -> None:
    """Wait for the GPU, so that the seconds measured are the work's."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
