"""Scene-graph recall under PredCls (boxes and categories given, every ordered pair ranked).

For one image, the candidate triples (s, P, o) are ranked by score:

- with the graph constraint, each ordered pair keeps its best predicate only (one triple per
  pair), as a scene-graph generator outputs one predicate per edge;
- without it, every (pair, predicate) is a candidate.

R@K is the share of the image's ground-truth triples among its top K candidates, averaged over
the images that have any; mR@K the same per predicate class (the share of that predicate's
triples recalled, averaged over the images that have one), then averaged over the predicates,
so that rare predicates count as much as common ones. With at most 10 objects an image has at
most 90 ordered pairs: under the graph constraint every candidate fits in the top 100, so R@100
is the best a model can recall when pairs are given (NeuroRule's note: R@50 equal to R@100
means the pairs were given).

Recall ranks within an image; :func:`average_precisions` ranks each predicate's scores over every
ordered pair of a whole split, so that a predicate's false positives (a look-alike pair scored
above a true one in any image) count too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score

__all__ = ["KS", "average_precisions", "recalls"]

KS = (20, 50, 100)


def _ranked(scores: np.ndarray, pairs: np.ndarray, graph: bool) -> np.ndarray:
    """The candidates of one image, best first, as (predicate, s, o) rows."""
    s, o = np.nonzero(pairs)
    if graph:
        best = scores[:, s, o].argmax(axis=0)
        values = scores[best, s, o]
        rows = np.stack([best, s, o], axis=1)
    else:
        p = np.repeat(np.arange(scores.shape[0]), len(s))
        rows = np.stack([p, np.tile(s, scores.shape[0]), np.tile(o, scores.shape[0])], axis=1)
        values = scores[rows[:, 0], rows[:, 1], rows[:, 2]]
    return rows[np.argsort(-values, kind="stable")]


def recalls(
    scores: np.ndarray,
    truths: np.ndarray,
    counts: np.ndarray,
    ks: Sequence[int] = KS,
    predicates: Sequence[int] | None = None,
) -> dict[str, float]:
    """R@K and mR@K with and without the graph constraint (keys ``R@20``, ``mR@20``,
    ``ngR@20``, ``ngmR@20`` ...), in percent, of ``scores`` (N, P, M, M) against ``truths``
    (N, P, M, M) bool for scenes of ``counts`` objects. ``predicates``: the classes whose
    triples are counted (all by default), e.g. the composed ones only."""
    n, p, m, _ = truths.shape
    wanted = np.zeros(p, dtype=bool)
    wanted[list(range(p)) if predicates is None else list(predicates)] = True
    out: dict[str, float] = {}
    for graph, prefix in ((True, ""), (False, "ng")):
        hit_all = {k: [] for k in ks}
        hit_class = {k: [[] for _ in range(p)] for k in ks}
        for i in range(n):
            c = int(counts[i])
            pairs = ~np.eye(c, dtype=bool)
            truth = truths[i, :, :c, :c] & pairs & wanted[:, None, None]
            if not truth.any():
                continue
            ranked = _ranked(scores[i, :, :c, :c], pairs, graph)
            found = truth[ranked[:, 0], ranked[:, 1], ranked[:, 2]]
            per_class = truth.sum(axis=(1, 2))
            for k in ks:
                top = found[:k]
                hit_all[k].append(top.sum() / per_class.sum())
                recalled = np.bincount(ranked[:k, 0][top], minlength=p)
                for q in np.nonzero(per_class)[0]:
                    hit_class[k][q].append(recalled[q] / per_class[q])
        for k in ks:
            out[f"{prefix}R@{k}"] = 100 * float(np.mean(hit_all[k])) if hit_all[k] else 0.0
            means = [np.mean(h) for h in hit_class[k] if h]
            out[f"{prefix}mR@{k}"] = 100 * float(np.mean(means)) if means else 0.0
    return out


def average_precisions(
    scores: np.ndarray, truths: np.ndarray, counts: np.ndarray
) -> dict[int, float]:
    """Per predicate (index) with any true triple, the average precision (%) of its scores over
    every ordered pair of distinct objects of every scene."""
    n, p, m, _ = truths.shape
    pairs = np.zeros((n, m, m), dtype=bool)
    for i, c in enumerate(counts):
        pairs[i, :c, :c] = ~np.eye(int(c), dtype=bool)
    return {
        q: 100 * float(average_precision_score(truths[:, q][pairs], scores[:, q][pairs]))
        for q in range(p)
        if truths[:, q][pairs].any()
    }
