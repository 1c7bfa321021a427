"""The backprop learner: -log P(y|x) through a differentiable engine, one gradient step per
batch. The engine ``exact`` is the model's own loss (the lowered circuit, logic in the
architecture; or logic in the loss, or the neural baseline); ``bp`` is belief propagation
unrolled on the task's factor graph (its Bethe log-likelihood, exact on a tree).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..engines.bp import bethe_log_likelihood
from ..models import TaskModel


@dataclass
class Backprop:
    """One AdamW step on the loss through ``engine`` per batch."""

    engine: str = "exact"

    def step(
        self,
        model: TaskModel,
        net: torch.nn.Module,
        images: torch.Tensor,
        targets: torch.Tensor,
        optimiser: torch.optim.Optimizer,
        step: int,
    ) -> dict[str, float]:
        """Train on one batch; its loss. ``net`` is ``model`` or its data-parallel wrapper."""
        loss = self.loss(model, net, images, targets)
        if not torch.isfinite(loss):
            return {"loss": float(loss)}
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return {"loss": loss.item()}

    def loss(self, model: TaskModel, net, images: torch.Tensor, targets: torch.Tensor):
        """The batch's mean -log P(y|x) through the engine."""
        if self.engine == "exact":
            return model.loss(net(images, targets=targets), targets)
        probs = net(images, network_only=True).digits
        return -bethe_log_likelihood(model.task, probs, targets).mean()
