"""The backprop learner: -log P(y|x) through a differentiable engine (the lowered circuit, logic
in the architecture; or logic in the loss, or the neural baseline), one gradient step per batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models import TaskModel


@dataclass
class Backprop:
    """One AdamW step on the model's loss per batch."""

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
        loss = model.loss(net(images), targets)
        if not torch.isfinite(loss):
            return {"loss": float(loss)}
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return {"loss": loss.item()}
