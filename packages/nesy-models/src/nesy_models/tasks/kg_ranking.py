"""Filtered ranking evaluation of knowledge-graph completion: MRR, MR and Hits@k (NumPy only).

The protocol, to state with every number (as the data README asks):

- **Both directions.** Each evaluated triple (h, r, t) gives a tail query (h, r, ?), answered by
  t, and a head query (?, r, t), answered by h. Metrics are reported per direction and over both:
  the two directions have as many queries each, so "both" is the mean of the two.
- **Filtered against train + valid + test.** The candidates of a query are all entities except
  the *other* known answers: for a tail query, every e != t with (h, r, e) in train, valid or test
  is removed (for a head query, every e != h with (e, r, t)); the queried answer always stays.
- **Ties.** With ``greater`` the candidates scored strictly higher than the answer and ``equal``
  the other candidates scored the same, the answer's rank is ``1 + greater`` (``optimistic``),
  ``1 + greater + equal`` (``pessimistic``), or, as RNNLogic (Qu et al. 2021) scores it,
  uniform over those ``equal + 1`` ranks, a random tie-break (``expectation``): its expected rank
  is ``1 + greater + equal / 2``, and each metric is its expectation, e.g. MRR averages 1 / rank
  over the tied ranks. :func:`evaluate_ranking` reports that; note that MRR of the expected rank
  (:func:`ranking_metrics` on :func:`filtered_ranks` ``(..., "expectation")``) is not the same
  number. A scorer that gives every candidate the same score gets an uninformative rank under
  ``expectation`` and the worst under ``pessimistic``; ``optimistic`` rewards it with rank 1.

Scores: higher is better; ``-inf`` is allowed (a candidate ruled out), NaN is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from nesy_ir.errors import NesyError

__all__ = [
    "HITS",
    "POLICIES",
    "FilterIndex",
    "RankingError",
    "evaluate_ranking",
    "filter_index",
    "filtered_ranks",
    "rank_bounds",
    "ranking_metrics",
]

POLICIES = ("optimistic", "pessimistic", "expectation")
HITS = (1, 3, 10)
CHUNK = 1 << 22  # score entries compared at once: bounds the memory of big graphs
NO_ANSWERS = np.zeros(0, dtype=np.int64)


class RankingError(NesyError):
    """Scores, answers or triples that cannot be ranked (shape, NaN, ids out of range, policy)."""


@dataclass(frozen=True, eq=False)
class FilterIndex:
    """The known answers of every query, built once from the known triples: ``tails[(h, r)]``
    and ``heads[(r, t)]`` are sorted int64 arrays of entity ids."""

    tails: Mapping[tuple[int, int], np.ndarray]
    heads: Mapping[tuple[int, int], np.ndarray]

    def known_tails(self, triples: np.ndarray) -> list[np.ndarray]:
        """Per (h, r, t) of ``triples``: the known tails of (h, r, ?), t among them if known."""
        return [self.tails.get((h, r), NO_ANSWERS) for h, r, _ in as_triples(triples).tolist()]

    def known_heads(self, triples: np.ndarray) -> list[np.ndarray]:
        """Per (h, r, t) of ``triples``: the known heads of (?, r, t), h among them if known."""
        return [self.heads.get((r, t), NO_ANSWERS) for _, r, t in as_triples(triples).tolist()]


def as_triples(triples: np.ndarray) -> np.ndarray:
    """``triples`` as an int64 (n, 3) array of non-negative ids; an error otherwise."""
    array = np.asarray(triples)
    if array.size == 0:
        return np.zeros((0, 3), dtype=np.int64)
    if array.ndim != 2 or array.shape[1] != 3 or not np.issubdtype(array.dtype, np.integer):
        raise RankingError(
            f"triples must be integer ids of shape (n, 3), got {array.dtype} {array.shape}"
        )
    if array.min() < 0:
        raise RankingError("triples hold a negative id")
    return array.astype(np.int64, copy=False)


def group(keys: np.ndarray, values: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """``values`` grouped by the rows of ``keys`` (n, 2), each group sorted and without repeats."""
    if len(keys) == 0:
        return {}
    order = np.lexsort((values, keys[:, 1], keys[:, 0]))
    keys, values = keys[order], values[order]
    starts = np.flatnonzero(np.r_[True, np.any(keys[1:] != keys[:-1], axis=1)])
    ends = np.r_[starts[1:], len(keys)]
    groups = {}
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        members = values[start:end]
        members.flags.writeable = False
        groups[(int(keys[start, 0]), int(keys[start, 1]))] = members
    return groups


def filter_index(*triples: np.ndarray) -> FilterIndex:
    """The :class:`FilterIndex` of all ``triples`` arrays together (pass train, valid, test)."""
    known = np.unique(np.concatenate([as_triples(t) for t in triples] or [as_triples([])]), axis=0)
    return FilterIndex(
        tails=group(known[:, [0, 1]], known[:, 2]),
        heads=group(known[:, [1, 2]], known[:, 0]),
    )


def rank_bounds(
    scores: np.ndarray, answers: np.ndarray, known: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The best and worst filtered rank (int64 arrays (Q,)) of each query's answer.

    ``scores[q, e]`` scores entity e for query q (higher is better); ``answers[q]`` is the true
    entity; ``known[q]`` the known answers of query q (the true one may be among them: it is never
    filtered). Best = 1 + #remaining candidates scored higher, worst = best + #others tied."""
    scores = np.asarray(scores)
    answers = np.asarray(answers)
    if scores.ndim != 2:
        raise RankingError(f"scores must be (queries, entities), got shape {scores.shape}")
    count, entities = scores.shape
    if answers.shape != (count,) or not np.issubdtype(answers.dtype, np.integer):
        raise RankingError(
            f"answers must be {count} integer ids (one per query), got {answers.shape}"
        )
    if len(known) != count:
        raise RankingError(f"known must hold one array per query: {len(known)} for {count} queries")
    if count and not (0 <= answers.min() and answers.max() < entities):
        raise RankingError(f"an answer id is outside 0..{entities - 1}")
    if np.isnan(scores).any():
        raise RankingError(
            f"scores hold NaN (first in query {np.argwhere(np.isnan(scores))[0, 0]})"
        )
    best = np.empty(count, dtype=np.int64)
    worst = np.empty(count, dtype=np.int64)
    step = max(1, CHUNK // max(entities, 1))
    for start in range(0, count, step):
        rows = slice(start, min(start + step, count))
        best[rows], worst[rows] = chunk_bounds(scores[rows], answers[rows], known[rows], entities)
    return best, worst


def chunk_bounds(
    scores: np.ndarray, answers: np.ndarray, known: Sequence[np.ndarray], entities: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`rank_bounds` of a few queries at once, as boolean (queries, entities) arrays."""
    count = len(answers)
    candidate = np.ones((count, entities), dtype=bool)
    lengths = np.array([len(k) for k in known], dtype=np.int64)
    if lengths.sum():
        columns = np.concatenate([np.asarray(k, dtype=np.int64) for k in known])
        if columns.min() < 0 or columns.max() >= entities:
            raise RankingError(f"a known answer id is outside 0..{entities - 1}")
        candidate[np.repeat(np.arange(count), lengths), columns] = False
    queries = np.arange(count)
    candidate[queries, answers] = True  # the queried answer is never filtered
    target = scores[queries, answers][:, None]
    greater = np.count_nonzero((scores > target) & candidate, axis=1)
    tied = np.count_nonzero((scores == target) & candidate, axis=1) - 1  # less the answer
    return 1 + greater, 1 + greater + tied


def filtered_ranks(
    scores: np.ndarray,
    answers: np.ndarray,
    known: Sequence[np.ndarray],
    policy: str = "expectation",
) -> np.ndarray:
    """The filtered rank (float64 (Q,)) of each query's answer under tie ``policy``: the best,
    the worst, or the expected rank under a random tie-break (see the module docstring)."""
    check_policy(policy)
    best, worst = rank_bounds(scores, answers, known)
    if policy == "optimistic":
        return best.astype(np.float64)
    if policy == "pessimistic":
        return worst.astype(np.float64)
    return (best + worst) / 2.0


def ranking_metrics(
    ranks: np.ndarray, worst: np.ndarray | None = None, hits: Sequence[int] = HITS
) -> dict[str, float]:
    """MRR, MR and Hits@k of ``ranks`` (keys "mrr", "mr", "hits@k", and "count").

    With ``worst``, each query's rank is uniform over ``ranks[q]..worst[q]`` (integers: the
    bounds of :func:`rank_bounds`) and every metric is its expectation, as RNNLogic reports."""
    best = np.asarray(ranks, dtype=np.float64)
    if best.ndim != 1 or best.size == 0:
        raise RankingError(f"ranks must be a non-empty 1-D array, got shape {best.shape}")
    if best.min() < 1:
        raise RankingError(f"ranks start at 1, got {best.min()}")
    if worst is None:
        metrics = {"mrr": float(np.mean(1.0 / best)), "mr": float(np.mean(best))}
        metrics |= {f"hits@{k}": float(np.mean(best <= k)) for k in hits}
        return metrics | {"count": len(best)}
    low, high = best.astype(np.int64), np.asarray(worst, dtype=np.int64)
    if high.shape != low.shape or np.any(low != best) or np.any(high < low):
        raise RankingError("ranks and worst must be integer bounds of one shape, worst >= ranks")
    width = (high - low + 1).astype(np.float64)
    harmonic = np.r_[0.0, np.cumsum(1.0 / np.arange(1, high.max() + 1))]
    metrics = {
        "mrr": float(np.mean((harmonic[high] - harmonic[low - 1]) / width)),
        "mr": float(np.mean((low + high) / 2.0)),
    }
    metrics |= {
        f"hits@{k}": float(np.mean(np.clip(np.minimum(high, k) - low + 1, 0, None) / width))
        for k in hits
    }
    return metrics | {"count": len(best)}


def evaluate_ranking(
    tail_scores: np.ndarray,
    head_scores: np.ndarray,
    triples: np.ndarray,
    index: FilterIndex,
    policy: str = "expectation",
    hits: Sequence[int] = HITS,
) -> dict[str, dict[str, float]]:
    """Filtered metrics of ``triples`` (n, 3) in both directions: "tail" (row q of
    ``tail_scores`` scores (h, r, ?) of triple q), "head" (``head_scores``, (?, r, t)) and
    "both" (all 2n queries: the mean of the two). ``index`` is :func:`filter_index` of train,
    valid and test. Under ``expectation`` each metric is its expectation over tie-breaks."""
    check_policy(policy)
    triples = as_triples(triples)
    bounds = {
        "tail": rank_bounds(tail_scores, triples[:, 2], index.known_tails(triples)),
        "head": rank_bounds(head_scores, triples[:, 0], index.known_heads(triples)),
    }
    bounds["both"] = tuple(np.concatenate(pair) for pair in zip(*bounds.values(), strict=True))
    report = {}
    for direction, (best, worst) in bounds.items():
        if policy == "expectation":
            report[direction] = ranking_metrics(best, worst, hits)
        else:
            report[direction] = ranking_metrics(
                best if policy == "optimistic" else worst, None, hits
            )
    return report


def check_policy(policy: str) -> None:
    """An error naming ``policy`` unless it is one of :data:`POLICIES`."""
    if policy not in POLICIES:
        raise RankingError(f"unknown tie policy {policy!r}; expected one of {', '.join(POLICIES)}")
