"""Vi-C agreement (source Alg. 1): classify by which class's Vi-SATNet the head agrees with.

Every class l's layer re-generates the masked vectors; the frozen head C classifies each
completed map. Class l is recorded when C predicts l on layer l's map. Alg. 1 leaves two cases
open, settled here by C's confidence: several agreeing classes -> the one whose own probability
p_l(C(V^l)) is highest; no agreeing class -> the class l with the highest p_l(C(V^l)).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from nesy_models.visatnet.layer import ViSATNet


@torch.no_grad()
def regenerate_all(
    layers: Sequence[ViSATNet], vectors: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """(L, B, n, k): the vectors completed by each of the L layers."""
    return torch.stack([layer(vectors, mask) for layer in layers])


@torch.no_grad()
def vi_c_agreement(
    layers: Sequence[ViSATNet],
    classify: Callable[[torch.Tensor], torch.Tensor],
    vectors: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    """Predicted labels (B,) for unit feature vectors (B, n, k) with ``mask`` (B, n) missing.

    ``layers[l]`` is the Vi-SATNet of class l; ``classify`` maps vectors (B, n, k) to logits.
    """
    completed = regenerate_all(layers, vectors, mask)
    labels = torch.arange(len(layers), device=vectors.device)
    probs = torch.stack([classify(c).softmax(-1) for c in completed])  # (L, B, classes)
    own = probs[labels, :, labels]  # (L, B): p_l of layer l's map
    agree = probs.argmax(-1) == labels.unsqueeze(1)
    score = torch.where(agree, own + 1.0, own)  # any agreeing class beats every other
    return score.argmax(0)
