"""nesy_models.tasks.kg_ranking: filtered ranks against a brute-force loop, and known answers."""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nesy_models.tasks.kg_ranking import (
    POLICIES,
    RankingError,
    evaluate_ranking,
    filter_index,
    filtered_ranks,
    rank_bounds,
    ranking_metrics,
)

# --- brute force, one query and one candidate at a time ----------------------------------------


def brute_bounds(scores: list[float], answer: int, known: set[int]) -> tuple[int, int]:
    """Best and worst filtered rank of ``answer``, by looping over the candidates."""
    greater = tied = 0
    for entity, score in enumerate(scores):
        if entity == answer or entity in known:
            continue  # the answer itself, or another known answer (filtered)
        greater += score > scores[answer]
        tied += score == scores[answer]
    return 1 + greater, 1 + greater + tied


def brute_metrics(bounds: list[tuple[int, int]], policy: str) -> dict[str, float]:
    """MRR / MR / Hits by listing, for each query, the ranks its tie-breaks can give."""
    totals = {"mrr": 0.0, "mr": 0.0, "hits@1": 0.0, "hits@3": 0.0, "hits@10": 0.0}
    for best, worst in bounds:
        ranks = {"optimistic": [best], "pessimistic": [worst]}.get(policy, range(best, worst + 1))
        for rank in ranks:
            share = 1.0 / len(ranks)
            totals["mrr"] += share / rank
            totals["mr"] += share * rank
            for k in (1, 3, 10):
                totals[f"hits@{k}"] += share * (rank <= k)
    return {name: value / len(bounds) for name, value in totals.items()}


@st.composite
def graphs_and_scores(draw):
    """A random small graph (known triples, a test part of them) and tied-prone scores."""
    entities = draw(st.integers(1, 7))
    relations = draw(st.integers(1, 3))
    triple = st.tuples(
        st.integers(0, entities - 1), st.integers(0, relations - 1), st.integers(0, entities - 1)
    )
    known = draw(st.lists(triple, min_size=1, max_size=25, unique=True))
    test = draw(st.lists(st.sampled_from(known), min_size=1, max_size=6))
    score = st.sampled_from([-np.inf, 0.0, 0.5, 1.0, 2.0])  # few values: many ties
    tails = draw(
        st.lists(
            st.lists(score, min_size=entities, max_size=entities),
            min_size=len(test),
            max_size=len(test),
        )
    )
    heads = draw(
        st.lists(
            st.lists(score, min_size=entities, max_size=entities),
            min_size=len(test),
            max_size=len(test),
        )
    )
    return known, test, np.array(tails), np.array(heads)


@given(graphs_and_scores())
def test_filtered_ranks_match_brute_force(case):
    known, test, tail_scores, head_scores = case
    split = len(known) // 2  # the index is built from several arrays, as from train/valid/test
    index = filter_index(
        np.array(known[:split], dtype=np.int64).reshape(-1, 3), np.array(known[split:])
    )
    triples = np.array(test, dtype=np.int64)
    expected = {"tail": [], "head": []}
    for q, (h, r, t) in enumerate(test):
        known_tails = {e for hh, rr, e in known if (hh, rr) == (h, r)}
        known_heads = {e for e, rr, tt in known if (rr, tt) == (r, t)}
        expected["tail"].append(brute_bounds(tail_scores[q].tolist(), t, known_tails))
        expected["head"].append(brute_bounds(head_scores[q].tolist(), h, known_heads))

    tail_known = index.known_tails(triples)
    best, worst = rank_bounds(tail_scores, triples[:, 2], tail_known)
    assert list(zip(best.tolist(), worst.tolist(), strict=True)) == expected["tail"]
    ranks = {p: filtered_ranks(tail_scores, triples[:, 2], tail_known, p) for p in POLICIES}
    assert np.all(ranks["optimistic"] <= ranks["expectation"])
    assert np.all(ranks["expectation"] <= ranks["pessimistic"])
    np.testing.assert_array_equal(ranks["expectation"], (best + worst) / 2)

    for policy in POLICIES:
        report = evaluate_ranking(tail_scores, head_scores, triples, index, policy)
        for direction in ("tail", "head"):
            want = brute_metrics(expected[direction], policy)
            assert report[direction] == pytest.approx(want | {"count": len(test)})
        both = brute_metrics(expected["tail"] + expected["head"], policy)
        assert report["both"] == pytest.approx(both | {"count": 2 * len(test)})
        assert report["both"]["mrr"] == pytest.approx(
            (report["tail"]["mrr"] + report["head"]["mrr"]) / 2
        )
    mrr = {
        p: evaluate_ranking(tail_scores, head_scores, triples, index, p)["both"]["mrr"]
        for p in POLICIES
    }
    assert mrr["optimistic"] >= mrr["expectation"] - 1e-12
    assert mrr["expectation"] >= mrr["pessimistic"] - 1e-12


# --- a hand-computed example --------------------------------------------------------------------

# entities 0..4, one relation; train (0,0,1) (0,0,2); test (0,0,3) (4,0,3)
TRAIN = np.array([[0, 0, 1], [0, 0, 2]])
TEST = np.array([[0, 0, 3], [4, 0, 3]])
TAIL_SCORES = np.array(
    [
        [0.1, 0.9, 0.8, 0.5, 0.7],  # (0,0,?): 1 and 2 filtered; only 4 above 3: rank 2
        [0.0, 0.0, 0.0, 1.0, 0.0],  # (4,0,?): 3 on top: rank 1
    ]
)
HEAD_SCORES = np.array(
    [
        [0.6, 0.6, 0.2, 0.9, 1.0],  # (?,0,3) answer 0: 4 filtered; 3 above, 1 tied: ranks 2..3
        [5.0, 1.0, 1.0, 1.0, 1.0],  # (?,0,3) answer 4: 0 filtered; 1, 2, 3 tied: ranks 1..4
    ]
)


def test_hand_computed_metrics():
    index = filter_index(TRAIN, TEST)
    assert index.known_tails(TEST)[0].tolist() == [1, 2, 3]
    assert index.known_heads(TEST)[1].tolist() == [0, 4]
    exact = {p: evaluate_ranking(TAIL_SCORES, HEAD_SCORES, TEST, index, p) for p in POLICIES}
    for policy in POLICIES:  # no ties among the tail queries: every policy agrees
        assert exact[policy]["tail"] == {
            "mrr": 0.75,
            "mr": 1.5,
            "hits@1": 0.5,
            "hits@3": 1.0,
            "hits@10": 1.0,
            "count": 2,
        }
    assert exact["optimistic"]["head"] == exact["optimistic"]["tail"]
    assert exact["pessimistic"]["head"] == pytest.approx(
        {
            "mrr": (1 / 3 + 1 / 4) / 2,
            "mr": 3.5,
            "hits@1": 0.0,
            "hits@3": 0.5,
            "hits@10": 1.0,
            "count": 2,
        }
    )
    mrr = (Fraction(1, 2) + Fraction(1, 3)) / 2 + (
        Fraction(1) + Fraction(1, 2) + Fraction(1, 3) + Fraction(1, 4)
    ) / 4
    assert exact["expectation"]["head"] == pytest.approx(
        {
            "mrr": float(mrr / 2),
            "mr": 2.5,
            "hits@1": 1 / 8,
            "hits@3": 7 / 8,
            "hits@10": 1.0,
            "count": 2,
        }
    )
    assert exact["expectation"]["head"]["mrr"] == pytest.approx(15 / 32)
    assert exact["expectation"]["both"]["mrr"] == pytest.approx(39 / 64)
    head_known = index.known_heads(TEST)
    ranks = filtered_ranks(HEAD_SCORES, TEST[:, 0], head_known, "expectation")
    assert ranks.tolist() == [2.5, 2.5]
    # the MRR of the expected rank is another number than the expected MRR
    assert ranking_metrics(ranks)["mrr"] == pytest.approx(0.4)  # not 15 / 32


def test_filtering_removes_exactly_the_other_known_answers():
    scores = np.array([[3.0, 2.0, 1.0, 0.0]])  # answer 2 is below 0 and 1
    answer = np.array([2])
    rank = {
        "no filter": filtered_ranks(scores, answer, [np.array([], dtype=np.int64)]),
        "0 known": filtered_ranks(scores, answer, [np.array([0])]),
        "0, 1 known": filtered_ranks(scores, answer, [np.array([0, 1])]),
        "all known": filtered_ranks(scores, answer, [np.array([0, 1, 2, 3])]),
        "answer known": filtered_ranks(scores, answer, [np.array([2])]),
        "below known": filtered_ranks(scores, answer, [np.array([3])]),
    }
    assert {name: r.tolist() for name, r in rank.items()} == {
        "no filter": [3.0],
        "0 known": [2.0],
        "0, 1 known": [1.0],
        "all known": [1.0],  # the queried answer itself is never filtered
        "answer known": [3.0],
        "below known": [3.0],
    }
    tied = np.array([[1.0, 1.0, 1.0, 1.0]])  # a known tie does not count, an unknown one does
    best, worst = rank_bounds(tied, answer, [np.array([0, 2])])
    assert (best.tolist(), worst.tolist()) == ([1], [3])


def test_umls_sized_evaluation_is_fast():
    rng = np.random.default_rng(0)
    entities, relations = 135, 46
    known = np.unique(
        np.stack(
            [
                rng.integers(0, entities, 6600),
                rng.integers(0, relations, 6600),
                rng.integers(0, entities, 6600),
            ],
            1,
        ),
        axis=0,
    )
    test = known[rng.permutation(len(known))[:661]]
    scores = rng.normal(size=(2, len(test), entities)).round(1)  # rounded: ties
    start = time.perf_counter()
    index = filter_index(known)
    report = {p: evaluate_ranking(scores[0], scores[1], test, index, p) for p in POLICIES}
    assert time.perf_counter() - start < 1.0
    assert report["optimistic"]["both"]["count"] == 1322
    assert 0 < report["pessimistic"]["both"]["mrr"] < report["optimistic"]["both"]["mrr"] < 1


def test_bad_input_is_refused():
    known = [np.array([], dtype=np.int64)]
    with pytest.raises(RankingError, match="NaN"):
        filtered_ranks(np.array([[0.0, np.nan]]), np.array([0]), known)
    with pytest.raises(RankingError, match="unknown tie policy 'random'"):
        filtered_ranks(np.zeros((1, 2)), np.array([0]), known, "random")
    with pytest.raises(RankingError, match="answer id is outside 0..1"):
        filtered_ranks(np.zeros((1, 2)), np.array([2]), known)
    with pytest.raises(RankingError, match="known answer id is outside"):
        filtered_ranks(np.zeros((1, 2)), np.array([0]), [np.array([5])])
    with pytest.raises(RankingError, match="one array per query"):
        filtered_ranks(np.zeros((2, 2)), np.array([0, 1]), known)
    with pytest.raises(RankingError, match=r"shape \(n, 3\)"):
        filter_index(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(RankingError, match="non-empty"):
        ranking_metrics(np.array([]))
