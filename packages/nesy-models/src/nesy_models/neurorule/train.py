"""Training NeuroRule for knowledge-graph completion, evaluated by filtered ranking.

Each step takes a batch of training triples as *queries* and removes them (so also their
inverse-predicate edges) from the adjacency the rule bodies read: otherwise the model would learn
the trivial ``r(X, Y) :- r(X, Y)``, as Neural LP, DRUM and RNNLogic note. The loss is, per query
(h, r, t), a softmax cross-entropy over the candidate tails of (h, r, ?) and over the candidate
heads of (?, r, t) (``loss="softmax"``, the default: it ranked better than BCE, see
:class:`NeuroRuleConfig`), or a binary cross-entropy over the same candidates (``loss="bce"``);
other training answers of the query are left out of either. Plus ``lam`` times Omega:

- Omega_sparsity: the L1 norm of the rule weights alpha, per head relation (sum / R);
- Omega_semantic: per query, sum over the rules of its head of w_t * (1 - min(1, body_t(h, t))),
  w = |alpha| / sum |alpha|: a rule that carries weight must hold where its head holds. The
  bodies are those of the masked adjacency, so the term cannot reward the trivial rule.

The softmax loss leaves the bias out of training (it cannot tell). Early stopping on the
validation MRR; the test is the filtered ranking of :func:`.kg_ranking.evaluate_ranking` in
both directions, ``expectation`` ties.

With an embedding (``config.embedding``), :func:`fit_embedding` then trains it alone on the same
queries and loss (plus its N3 penalty; early stopping on its own validation MRR) and weighs it
into each head relation's logits by the factor of :data:`ETAS` that ranks that relation's
validation triples best (:func:`head_etas`; 0 included: it never makes the validation ranking
worse). Some relations are well explained by rules and others by the embedding: on RNNLogic's
UMLS split a weight per relation ranked the test triples better than one for all, 0.854
against 0.839 (median of 3 seeds; the embedding refitted on the same saved rules by a side
script, docs/results.md).
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..data.kg import KnowledgeGraph, load_kg
from ..tasks.kg_ranking import as_triples, evaluate_ranking, filter_index
from .checkpoint import Progress, Trained, resume_checkpoint, save_checkpoint
from .config import NeuroRuleConfig, build_model
from .explain import learned_rules
from .model import NeuroRule, Scores, adjacency

__all__ = [
    "ETAS",
    "fit_embedding",
    "head_etas",
    "query_loss",
    "omega",
    "score_triples",
    "train_neurorule",
]

#: The weights of the embedding's scores tried against the rules' (per head relation, on its
#: validation triples).
ETAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
#: Epochs of the embedding without a better validation MRR before it stops.
EMBEDDING_PATIENCE = 5


def known_mask(triples: np.ndarray, num_entities: int, num_relations: int) -> torch.Tensor:
    """A bool tensor (R, E, E): ``mask[r, h, t]`` for each (h, r, t) of ``triples``."""
    mask = torch.zeros(num_relations, num_entities, num_entities, dtype=torch.bool)
    t = torch.as_tensor(np.array(triples, dtype=np.int64).reshape(-1, 3))
    mask[t[:, 1], t[:, 0], t[:, 2]] = True
    return mask


def query_loss(
    logits: torch.Tensor, batch: torch.Tensor, known: torch.Tensor, loss: str = "softmax"
) -> torch.Tensor:
    """The relation loss of the queries ``batch`` (B, 3) in both directions, the other known
    answers (``known`` (R, E, E)) left out: softmax cross-entropy or BCE over the candidates."""
    h, r, t = batch.unbind(1)
    rows = torch.arange(len(batch))
    total = logits.new_zeros(())
    for scores, others, answer in (
        (logits[r, h, :], known[r, h, :].clone(), t),  # (h, r, ?)
        (logits[r, :, t], known[r, :, t].clone(), h),  # (?, r, t)
    ):
        others[rows, answer] = False
        if loss == "softmax":
            total = total + F.cross_entropy(scores.masked_fill(others, -torch.inf), answer)
        else:
            target = torch.zeros_like(scores)
            target[rows, answer] = 1.0
            each = F.binary_cross_entropy_with_logits(scores, target, reduction="none")
            total = total + (each * ~others).sum() / (~others).sum()
    return total / 2


def omega(model: NeuroRule, bodies: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
    """Omega = L1(alpha) per head relation + the alpha-weighted incoherence of the queries'
    rules (1 - body truth where the head holds), see the module docstring."""
    sparsity = model.alpha.abs().sum() / len(model.heads)
    h, r, t = batch.unbind(1)
    truth = bodies[r, :, h, t].clamp(max=1.0)  # (B, T)
    weight = model.alpha[r].abs()
    weight = weight / weight.sum(dim=1, keepdim=True).clamp_min(1e-12)
    semantic = (weight * (1.0 - truth)).sum(dim=1).mean()
    return sparsity + semantic


def score_triples(
    scores: Scores | torch.Tensor, triples: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The tail scores (n, E) of (h, r, ?) and head scores (n, E) of (?, r, t) per triple."""
    logits = scores.logits if isinstance(scores, Scores) else scores
    logits = logits.detach().double()
    t = torch.as_tensor(np.array(triples, dtype=np.int64).reshape(-1, 3))
    return logits[t[:, 1], t[:, 0], :].numpy(), logits[t[:, 1], :, t[:, 2]].numpy()


def train_neurorule(
    config: NeuroRuleConfig,
    kg: KnowledgeGraph | None = None,
    return_model: bool = False,
    checkpoint: str | os.PathLike | None = None,
) -> dict:
    """Train on ``kg`` (default: ``load_kg(config.dataset, config.data_dir)``) and return the
    metrics: filtered test MRR and Hits@1/3/10 over both directions (``test`` has the full
    report per direction), the best validation MRR, seconds per epoch and in total, and the
    learned rules as text. With ``return_model`` the dict also holds ``model`` (best epoch).
    With ``checkpoint`` the run is saved there after every epoch and resumes from it when it
    exists (:func:`.checkpoint.resume_checkpoint`)."""
    start = time.perf_counter()
    if kg is None:
        kg = load_kg(config.dataset, config.data_dir)  # a name is looked for under $NESY_DATA
    model = build_model(config, kg)
    e, r = kg.num_entities, kg.num_relations
    facts = adjacency(kg.train, e, r, config.identity)
    known = known_mask(kg.train, e, r)
    index = filter_index(kg.train, kg.valid, kg.test)
    # the softmax loss is blind to the bias (it shifts every candidate alike): its gradient is
    # rounding noise, which Adam would scale up to full steps, so it stays at its start
    trained = [
        p
        for n, p in model.named_parameters()
        if (n != "bias" or config.loss == "bce") and not n.startswith("embedding.")
    ]
    optimizer = torch.optim.AdamW(trained, lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    best, progress = copy.deepcopy(model), Progress()
    if checkpoint is not None and os.path.exists(checkpoint):
        saved, progress = resume_checkpoint(checkpoint, config, kg)
        best = saved.model
        model.load_state_dict(progress.weights)
        optimizer.load_state_dict(progress.optimizer)
        generator.set_state(progress.generator)
    train = torch.as_tensor(np.array(kg.train, dtype=np.int64))
    while len(progress.history) < config.epochs and (
        progress.stale < config.patience or not progress.history
    ):
        epoch = len(progress.history)
        began = time.perf_counter()
        model.train()
        order = torch.randperm(len(train), generator=generator)
        batches = order.split(config.batch_size)
        losses = []
        for rows in tqdm(batches, f"epoch {epoch + 1}", disable=not config.progress, leave=False):
            batch = train[rows]
            h, q, t = batch.unbind(1)
            masked = facts.clone()
            masked[q, h, t] = 0.0  # the queries' own edges, and their inverse-predicate edges
            masked[q + r, t, h] = 0.0
            scores = model(masked)
            loss = query_loss(scores.logits, batch, known, config.loss)
            loss = loss + config.lam * omega(model, scores.bodies, batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        progress.epoch_seconds.append(time.perf_counter() - began)
        valid = evaluate(model, facts, kg.valid, index)
        progress.history.append(
            {"epoch": epoch + 1, "loss": float(np.mean(losses)), "valid_mrr": valid}
        )
        if valid > progress.best_mrr:
            progress.best_mrr, progress.best_epoch, progress.stale = valid, epoch + 1, 0
            best = copy.deepcopy(model)
        else:
            progress.stale += 1
        if checkpoint is not None:
            progress.weights, progress.optimizer = model.state_dict(), optimizer.state_dict()
            progress.generator = generator.get_state()
            save_checkpoint(checkpoint, Trained(best, config, kg), progress)
    model = best.eval()
    fitted = {}
    if model.embedding is not None:
        fitted = fit_embedding(model, facts, kg, known, index, config, generator)
        if checkpoint is not None:
            save_checkpoint(checkpoint, Trained(model, config, kg), progress)
    with torch.no_grad():
        report = evaluate_ranking(*score_triples(model(facts), kg.test), kg.test, index)
    rules = learned_rules(model, top=config.top_rules)
    metrics = {
        "dataset": kg.name,
        "mrr": report["both"]["mrr"],
        "hits@1": report["both"]["hits@1"],
        "hits@3": report["both"]["hits@3"],
        "hits@10": report["both"]["hits@10"],
        "test": report,
        "valid_mrr": progress.best_mrr,
        "best_epoch": progress.best_epoch,
        "epochs_run": len(progress.history),
        "seconds_per_epoch": float(np.mean(progress.epoch_seconds)),
        "total_seconds": time.perf_counter() - start,
        "history": progress.history,
        "rules": "\n".join(str(rule) for rule in rules),
        "config": asdict(config),
        **fitted,
    }
    if return_model:
        metrics["model"] = model
    return metrics


def evaluate(model: NeuroRule, facts: torch.Tensor, triples: np.ndarray, index) -> float:
    """The filtered MRR (both directions, expectation ties) of ``triples`` from ``facts``."""
    model.eval()
    with torch.no_grad():
        return ranking_mrr(model(facts).logits, triples, index)


def ranking_mrr(logits: torch.Tensor, triples: np.ndarray, index) -> float:
    """The filtered MRR (both directions, expectation ties) of ``triples`` by ``logits``."""
    if len(triples) == 0:
        return 0.0
    return evaluate_ranking(*score_triples(logits, triples), triples, index)["both"]["mrr"]


def fit_embedding(
    model: NeuroRule,
    facts: torch.Tensor,
    kg: KnowledgeGraph,
    known: torch.Tensor,
    index,
    config: NeuroRuleConfig,
    generator: torch.Generator,
) -> dict:
    """Train ``model.embedding`` alone, then set ``model.eta`` to each head's weight of
    :data:`ETAS` (:func:`head_etas`, see the module docstring). Returns what it found: the
    embedding's validation MRR alone, its epochs, eta per head, the validation MRR with it."""
    began = time.perf_counter()
    embedding = model.embedding
    optimizer = torch.optim.AdamW(embedding.parameters(), lr=config.embedding_lr, weight_decay=0)
    train = torch.as_tensor(np.array(kg.train, dtype=np.int64))
    best, best_mrr, best_epoch, epoch = copy.deepcopy(embedding.state_dict()), -1.0, 0, 0
    while epoch < config.epochs and epoch - best_epoch < EMBEDDING_PATIENCE:
        embedding.train()
        order = torch.randperm(len(train), generator=generator)
        for rows in order.split(config.batch_size):
            batch = train[rows]
            loss = query_loss(embedding(), batch, known, config.loss)
            loss = loss + config.embedding_reg * embedding.penalty(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        epoch += 1
        with torch.no_grad():
            mrr = ranking_mrr(embedding(), kg.valid, index)
        if mrr > best_mrr:
            best, best_mrr, best_epoch = copy.deepcopy(embedding.state_dict()), mrr, epoch
    embedding.load_state_dict(best)
    model.eval()
    with torch.no_grad():
        model.eta.zero_()
        rules, scores = model(facts).logits, embedding()
        model.eta.copy_(head_etas(rules, scores, model.heads, kg.valid, index))
        valid_mrr = ranking_mrr(model(facts).logits, kg.valid, index)
    return {
        "embedding_valid_mrr": best_mrr,
        "embedding_epochs": epoch,
        "eta": dict(zip(model.head_names, model.eta.tolist(), strict=True)),
        "valid_mrr_with_embedding": valid_mrr,
        "embedding_seconds": time.perf_counter() - began,
    }


def head_etas(
    rules: torch.Tensor, scores: torch.Tensor, heads: Sequence[int], valid: np.ndarray, index
) -> torch.Tensor:
    """(H,): per head, the weight of :data:`ETAS` under which the rules' logits plus it times
    the embedding's ``scores`` rank that head's validation triples best; a head without any
    takes the weight that ranks all of them best. A triple's rank reads its head's logits
    alone, so the heads' choices add up and never rank the validation triples worse than
    any one weight for all, or than the rules alone (weight 0)."""
    valid = as_triples(valid)
    groups = [valid, *(valid[valid[:, 1] == relation] for relation in heads)]
    # (weights, 1 + H): the MRR of all the triples, then of each head's, under each weight
    weighed = (rules + eta * scores for eta in ETAS)  # each weight's logits, built once
    table = np.array([[ranking_mrr(logits, t, index) for t in groups] for logits in weighed])
    chosen = np.asarray(ETAS)[table.argmax(0)]  # the first best: the smallest on ties
    asked = np.array([len(t) > 0 for t in groups[1:]], dtype=bool)
    return torch.as_tensor(np.where(asked, chosen[1:], chosen[0]), dtype=rules.dtype)
