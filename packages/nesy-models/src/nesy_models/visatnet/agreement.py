"""Vi-C agreement (source Alg. 1): classify by which class's Vi-SATNet the head agrees with.

Every class l's layer re-generates the masked vectors; the frozen head C classifies each
completed map. Class l is recorded when C predicts l on layer l's map. Alg. 1 leaves open what
to do when several classes agree (with masks above about half, nearly always: each layer
re-generates a convincing map of its own digit) or none does. The tie-break, among the agreeing
classes (or all, when none agrees):

- ``"confidence"``: the class l with the highest p_l(C(V^l));
- ``"consistency"`` (default): the highest p_l(C(V^l)) plus how well layer l re-generates the
  *visible* vectors when each is hidden in turn (mean cosine over up to ``probes`` of them,
  leave-one-out): the layer of the true class knows how the given vectors fit together.
  Measured on MNIST (docs/results.md): from 47 % to 84 % at 80 % masking (median of 3 seeds),
  and better than either score alone at every ratio tried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from nesy_models.visatnet.errors import ViSATNetError
from nesy_models.visatnet.layer import ViSATNet

TIE_BREAKS = ("consistency", "confidence")


@torch.no_grad()
def regenerate_all(
    layers: Sequence[ViSATNet], vectors: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """(L, B, n, k): the vectors completed by each of the L layers."""
    return torch.stack([layer(vectors, mask) for layer in layers])


@torch.no_grad()
def consistency(
    layers: Sequence[ViSATNet], vectors: torch.Tensor, mask: torch.Tensor, probes: int = 5
) -> torch.Tensor:
    """(L, B): per layer, the mean cosine between up to ``probes`` visible vectors of each image
    (chosen at random, seed 0) and their re-generation with that vector hidden as well; 0 for
    an image with nothing visible."""
    batch, n = mask.shape
    rows = torch.arange(batch)
    keys = torch.rand(batch, n, generator=torch.Generator().manual_seed(0))
    order = keys.masked_fill(mask, 2.0).argsort(1)  # visible positions first, in random order
    count = (~mask).sum(1).clamp(max=probes)
    total = vectors.new_zeros(len(layers), batch)
    for r in range(int(count.max()) if batch else 0):
        position, used = order[:, r], r < count
        hidden = mask.clone()
        hidden[rows, position] |= used
        regenerated = regenerate_all(layers, vectors, hidden)[:, rows, position]  # (L, B, k)
        cosine = (regenerated * vectors[rows, position]).sum(-1)
        total += torch.where(used, cosine, torch.zeros_like(cosine))
    return total / count.clamp(min=1)


@torch.no_grad()
def vi_c_agreement(
    layers: Sequence[ViSATNet],
    classify: Callable[[torch.Tensor], torch.Tensor],
    vectors: torch.Tensor,
    mask: torch.Tensor,
    tie_break: str = "consistency",
    probes: int = 5,
) -> torch.Tensor:
    """Predicted labels (B,) for unit feature vectors (B, n, k) with ``mask`` (B, n) missing.

    ``layers[l]`` is the Vi-SATNet of class l; ``classify`` maps vectors (B, n, k) to logits;
    ``tie_break`` and ``probes``: see the module docstring.
    """
    if tie_break not in TIE_BREAKS:
        raise ViSATNetError(f"unknown tie-break {tie_break!r} (known: {', '.join(TIE_BREAKS)})")
    completed = regenerate_all(layers, vectors, mask)
    labels = torch.arange(len(layers), device=vectors.device)
    probs = torch.stack([classify(c).softmax(-1) for c in completed])  # (L, B, classes)
    own = probs[labels, :, labels]  # (L, B): p_l of layer l's map
    agree = probs.argmax(-1) == labels.unsqueeze(1)
    secondary = own
    if tie_break == "consistency":
        secondary = own + consistency(layers, vectors, mask, probes)  # 0 with nothing visible
    score = torch.where(agree, secondary + 10.0, secondary)  # any agreeing class beats the rest
    return score.argmax(0)
