"""NeuroRule's sparse path from query subjects equals the dense model's rows (values and
gradients, any template lengths), top-k pruning only drops paths, and what it cannot do is
refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nesy_models.data.kg import load_kg
from nesy_models.neurorule import NeuroRule, NeuroRuleError, adjacency
from nesy_models.neurorule.chain import LOG_FLOOR
from nesy_models.neurorule.sparse import query_log_bodies, query_logits, sparse_graph

FAMILY = load_kg("family")
E, R = FAMILY.num_entities, FAMILY.num_relations
GRAPH = sparse_graph(FAMILY.train, E, R)


def model_of(seed: int, **options) -> NeuroRule:
    torch.manual_seed(seed)
    return NeuroRule(E, R, **options).double()


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 1000),
    length=st.integers(1, 4),
    mixed=st.booleans(),
    tau=st.sampled_from([0.1, 0.3, 1.0]),
)
def test_the_sparse_bodies_are_the_dense_rows(seed, length, mixed, tau):
    model = model_of(seed, rules=3, length=length, tau=tau, mixed=mixed)
    facts = adjacency(FAMILY.train, E, R, dtype=torch.float64)
    sources = torch.randperm(E, generator=torch.Generator().manual_seed(seed))[:4]
    dense = model.log_bodies(facts)[:, :, sources]
    sparse = query_log_bodies(model, GRAPH, sources)
    reached = torch.isfinite(sparse)
    assert reached.any()
    torch.testing.assert_close(sparse[reached], dense[reached], rtol=1e-9, atol=1e-9)
    # unreached: each of the E^(L-1) paths the dense model sums has a step at its floor
    assert torch.all(dense[~reached] <= LOG_FLOOR + tau * (length - 1) * np.log(E) + 1e-6)
    (dense_grad,) = torch.autograd.grad(dense.exp().sum(), model.gamma)
    sparse = query_log_bodies(model, GRAPH, sources)
    (sparse_grad,) = torch.autograd.grad(sparse.exp().sum(), model.gamma)
    torch.testing.assert_close(sparse_grad, dense_grad, rtol=1e-7, atol=1e-12)
    logits = query_logits(model, GRAPH, sources)
    torch.testing.assert_close(logits, model(facts).logits[:, sources], rtol=1e-9, atol=1e-9)


def test_top_k_only_drops_paths_and_keeps_all_when_k_covers_the_frontier():
    model = model_of(0, rules=4, length=3)
    sources = torch.arange(6)
    with torch.no_grad():
        exact = query_log_bodies(model, GRAPH, sources)
        assert torch.equal(query_log_bodies(model, GRAPH, sources, top_k=E), exact)
        pruned = query_log_bodies(model, GRAPH, sources, top_k=2)
    assert torch.all(pruned <= exact + 1e-9)  # a smooth max over fewer paths
    assert torch.isfinite(pruned).sum() < torch.isfinite(exact).sum()


def test_what_the_sparse_path_cannot_do_is_refused():
    sources = torch.arange(2)
    with pytest.raises(NeuroRuleError, match="2 hops .* dense path"):
        query_log_bodies(model_of(0, hops=2), GRAPH, sources)
    with pytest.raises(NeuroRuleError, match="top_k must be at least 1"):
        query_log_bodies(model_of(0), GRAPH, sources, top_k=0)
    other = sparse_graph(FAMILY.train, E + 1, R)
    with pytest.raises(NeuroRuleError, match="entities"):
        query_log_bodies(model_of(0), other, sources)
    with pytest.raises(NeuroRuleError, match="ids beyond"):
        sparse_graph([[0, 5, 1]], 3, 2)
