"""Minimal significant feature sets (source defs. 1-3, Alg. 2).

For a target position t of one image, the layer of the image's class re-generates v_t from a
kept set of feature vectors; every other vector (t included) is masked, i.e. replaced by the
uniform unit vector and left to the layer (Definition 1). The reference score s_ref is the
cosine similarity when every vector but v_t is kept (Definition 2); a kept set is significant
at confidence alpha when its score is at least alpha * s_ref (Definition 3).

:func:`minimal_significant_set` runs Alg. 2 (delta-debugging: drop the largest chunks of the
candidate set that keep the score above the threshold, split the others in halves) with each
test made on the vectors still kept, so the result is significant by construction, then a
sweep that drops any single vector that can still go, so the result is 1-minimal: removing any
one element makes it insignificant (Alg. 2 alone only approximates minimality).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from nesy_models.visatnet.errors import ViSATNetError
from nesy_models.visatnet.layer import ViSATNet


@dataclass(frozen=True)
class SignificantSet:
    """A minimal significant feature set: its positions, the scores and the threshold."""

    target: int
    alpha: float
    kept: tuple[int, ...]
    score: float
    reference: float
    threshold: float


@torch.no_grad()
def target_similarity(
    layer: ViSATNet, vectors: torch.Tensor, target: int, kept: Iterable[int]
) -> float:
    """cos(v_hat_t, v_t) when only ``kept`` positions of ``vectors`` (n, k) are given."""
    mask = torch.ones(1, vectors.shape[0], dtype=torch.bool)
    mask[0, list(kept)] = False
    mask[0, target] = True
    out = layer(vectors.unsqueeze(0), mask)[0, target]
    return float(torch.nn.functional.cosine_similarity(out, vectors[target], dim=0))


def minimal_significant_set(
    layer: ViSATNet, vectors: torch.Tensor, target: int, alpha: float
) -> SignificantSet:
    """A 1-minimal significant feature set of confidence ``alpha`` for position ``target``."""
    n = vectors.shape[0]
    if not 0 <= target < n:
        raise ViSATNetError(f"target position must be in 0..{n - 1}, got {target}")
    if not 0.0 <= alpha <= 1.0:
        raise ViSATNetError(f"alpha must be in [0, 1], got {alpha}")
    full = frozenset(range(n)) - {target}
    reference = target_similarity(layer, vectors, target, full)
    threshold = alpha * reference

    def significant(kept: frozenset[int]) -> bool:
        return target_similarity(layer, vectors, target, kept) >= threshold

    dropped: frozenset[int] = frozenset()
    queue = [(-len(full), sorted(full))]
    while queue:
        _, current = heapq.heappop(queue)
        if significant(full - dropped - set(current)):
            dropped |= set(current)
        elif len(current) > 1:
            half = len(current) // 2
            for part in (current[:half], current[half:]):
                heapq.heappush(queue, (-len(part), part))
    kept = full - dropped
    shrunk = True
    while shrunk:
        shrunk = False
        for i in sorted(kept):
            if significant(kept - {i}):
                kept, shrunk = kept - {i}, True
                break
    score = target_similarity(layer, vectors, target, kept)
    return SignificantSet(target, alpha, tuple(sorted(kept)), score, reference, threshold)
