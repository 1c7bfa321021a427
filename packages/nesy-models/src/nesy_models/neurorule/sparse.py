"""NeuroRule's chain rules on sparse relations, from a batch of query entities: the cost of a
body grows with the edges its paths reach, not with |E|^2.

The dense model (:mod:`.model`) computes every body for every pair (s, o): (R, T, E, E) tensors,
which stop fitting in memory at a few thousand entities, the limitation the NeuroRule paper
names for its maximum over intermediate entities. Knowledge-graph completion asks (s, r, ?)
for a batch of subjects s, so here the chain is propagated from those subjects only:

    x_1 = log S_1[s, :],  x_(l+1)[j] = tau * log sum_z exp((x_l[z] + log S_(l+1)[z, j]) / tau)

where S_l = sum_P beta_(l,P) A_P is slot l's soft relation, stored on the union of the
predicates' edges. Each step visits the out-edges of the entities its row has reached (its
*frontier*), so it costs at most (rows x edges) and, with ``top_k``, (rows x k x degree): only
the k best entities of each row go on (an approximation: paths through the others are dropped;
``benchmarks/neurorule_scaling.py`` reports the error). Unreached entries are -inf (truth 0),
where the dense model floors them at :data:`.chain.LOG_FLOOR` (truth e^-60).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .model import NeuroRule, NeuroRuleError

__all__ = ["SparseGraph", "query_log_bodies", "query_logits", "sparse_graph"]


@dataclass(frozen=True)
class SparseGraph:
    """The predicates of a knowledge graph (relations, inverses, identity) on the union of their
    edges: ``pair_source``/``pair_target`` (N,) sorted by source, ``rowptr`` (E + 1,) the CSR
    offsets of each source's pairs, and ``edge_pair``/``edge_predicate`` (M,) which pair each
    predicate edge lies on."""

    num_entities: int
    num_predicates: int
    pair_source: torch.Tensor
    pair_target: torch.Tensor
    rowptr: torch.Tensor
    edge_pair: torch.Tensor
    edge_predicate: torch.Tensor

    @property
    def num_pairs(self) -> int:
        return len(self.pair_source)


def sparse_graph(
    triples: np.ndarray, num_entities: int, num_relations: int, identity: bool = True
) -> SparseGraph:
    """The :class:`SparseGraph` of ``triples`` (h, r, t), with the predicates of
    :func:`.model.predicate_names`: r (h -> t), inv_r (t -> h) and, with ``identity``, i -> i."""
    t = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
    if len(t) and (t[:, [0, 2]].max() >= num_entities or t[:, 1].max() >= num_relations):
        raise NeuroRuleError(
            f"triples have ids beyond {num_entities} entities / {num_relations} relations"
        )
    loops = np.arange(num_entities) if identity else np.zeros(0, dtype=np.int64)
    source = np.concatenate([t[:, 0], t[:, 2], loops])
    target = np.concatenate([t[:, 2], t[:, 0], loops])
    predicate = np.concatenate(
        [t[:, 1], t[:, 1] + num_relations, np.full(len(loops), 2 * num_relations)]
    )
    pairs, edge_pair = np.unique(source * num_entities + target, return_inverse=True)
    pair_source = pairs // num_entities  # np.unique sorts: by source, then target
    rowptr = np.concatenate([[0], np.cumsum(np.bincount(pair_source, minlength=num_entities))])
    return SparseGraph(
        num_entities,
        2 * num_relations + int(identity),
        torch.as_tensor(pair_source),
        torch.as_tensor(pairs % num_entities),
        torch.as_tensor(rowptr),
        torch.as_tensor(edge_pair.reshape(-1)),
        torch.as_tensor(predicate),
    )


def _frontier(x: torch.Tensor, top_k: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The (row, entity) entries of ``x`` (rows, E) a step propagates: every finite one, or
    the ``top_k`` largest of each row (finite ones only)."""
    if top_k is None or top_k >= x.shape[1]:
        return torch.nonzero(torch.isfinite(x), as_tuple=True)
    values, entity = x.detach().topk(top_k, dim=1)
    row = torch.arange(len(x)).repeat_interleave(top_k)
    keep = torch.isfinite(values.reshape(-1))
    return row[keep], entity.reshape(-1)[keep]


def _step(
    x: torch.Tensor,
    log_weight: torch.Tensor,
    template: torch.Tensor,
    graph: SparseGraph,
    tau: float,
    top_k: int | None,
) -> torch.Tensor:
    """One smooth-max step from ``x`` (rows, E) through the slot relations ``log_weight``
    (templates, pairs), row n using template ``template[n]``: each output entry is the
    logsumexp (temperature tau) of the paths into it, shifted by their maximum."""
    rows, entities = x.shape
    row, z = _frontier(x, top_k)
    start, degree = graph.rowptr[z], graph.rowptr[z + 1] - graph.rowptr[z]
    offset = torch.cumsum(degree, 0) - degree
    pair = start.repeat_interleave(degree)
    pair = pair + torch.arange(len(pair)) - offset.repeat_interleave(degree)
    row, value = row.repeat_interleave(degree), x[row, z].repeat_interleave(degree)
    term = value + log_weight[template[row], pair]
    out = row * entities + graph.pair_target[pair]
    with torch.no_grad():
        shift = term.new_full((rows * entities,), -torch.inf)
        shift = shift.scatter_reduce(0, out, term, "amax")
        shift = torch.where(torch.isfinite(shift), shift, 0.0)
    total = term.new_zeros(rows * entities).index_add(0, out, torch.exp((term - shift[out]) / tau))
    reached = total > 0
    value = tau * torch.log(torch.where(reached, total, 1.0)) + shift
    return torch.where(reached, value, -torch.inf).reshape(rows, entities)


def query_log_bodies(
    model: NeuroRule, graph: SparseGraph, sources: torch.Tensor, top_k: int | None = None
) -> torch.Tensor:
    """The log body truths of every rule of ``model`` from the subjects ``sources`` (B,) to
    every entity, on ``graph``: (R, T, B, E), -inf where no path reaches. Equal to the rows
    ``sources`` of :meth:`NeuroRule.log_bodies` on the dense adjacency (up to its floor) when
    ``top_k`` is None; ``top_k`` keeps the k best entities of each row after every step."""
    if model.hops != 1:
        raise NeuroRuleError(
            f"the sparse path applies the rules once; a model of {model.hops} hops (forward"
            " chaining) needs the dense path"
        )
    if (graph.num_entities, graph.num_predicates) != (model.num_entities, model.num_predicates):
        raise NeuroRuleError(
            f"the graph has {graph.num_entities} entities and {graph.num_predicates} predicates,"
            f" the model {model.num_entities} and {model.num_predicates}"
        )
    if top_k is not None and top_k < 1:
        raise NeuroRuleError(f"top_k must be at least 1, got {top_k}")
    r, t, length, p = model.gamma.shape
    beta = model.beta().reshape(r * t, length, p)
    weight = beta.new_zeros(r * t, length, graph.num_pairs)
    weight = weight.index_add(2, graph.edge_pair, beta[:, :, graph.edge_predicate])
    positive = weight > 0  # 0 only in a slot fixed to the identity (mixed lengths)
    log_weight = torch.where(positive, torch.log(torch.where(positive, weight, 1.0)), -torch.inf)
    b = len(sources)
    template = torch.arange(r * t).repeat_interleave(b)
    x = weight.new_full((r * t * b, model.num_entities), -torch.inf)
    x[torch.arange(len(x)), sources.repeat(r * t)] = 0.0  # a chain starts at its subject
    for slot in range(length):
        x = _step(x, log_weight[:, slot], template, graph, model.tau, top_k)
    return x.reshape(r, t, b, model.num_entities)


def query_logits(
    model: NeuroRule, graph: SparseGraph, sources: torch.Tensor, top_k: int | None = None
) -> torch.Tensor:
    """The logits (R, B, E) of every head relation R(s, o) for the subjects ``sources``: the
    rows of the dense model's logits, from :func:`query_log_bodies`."""
    bodies = torch.exp(query_log_bodies(model, graph, sources, top_k))
    return torch.einsum("rt,rtbo->rbo", model.alpha, bodies) + model.bias[:, None, None]
