"""Training NeuroRule on generated scene graphs end to end, and what it is measured by.

One objective for everything: the binary cross-entropy of every relation on every ordered pair
of distinct objects (summed over pairs and predicates, averaged over scenes), the same of the
unary category predicates, and lambda times Omega over the composed relations' rules
(:func:`omega`), its weight reached over the first epochs. Early stopping on the validation
mR@50, among the epochs trained at the full weight of Omega.
The test report: PredCls recall (:mod:`.recall`) on the test scenes, the composed relations'
recall on the test and zero-shot scenes, the planted rules recovered (:func:`rule_recovery`),
and seconds per training and per test image.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..explain import LearnedRule, learned_rules
from ..model import NeuroRule
from .config import SceneConfig, build_scene_model
from .generate import SceneSet, scene_splits
from .model import SceneModel, SceneScores
from .recall import average_precisions, recalls
from .relations import CATEGORIES, COMPOSED, PLANTED, PREDICATES, SINGLE_STEP, rule_text

__all__ = [
    "evaluate",
    "kept_rules",
    "omega",
    "rule_recovery",
    "scene_loss",
    "scene_scores",
    "train_scenes",
    "unfold",
]

COMPOSED_IDS = tuple(PREDICATES.index(c) for c in COMPOSED)
#: The composed relations by kind: one atom on the same pair, or through other objects.
KINDS = {
    "single-step": tuple(PREDICATES.index(c) for c in SINGLE_STEP),
    "through-object": tuple(PREDICATES.index(c) for c in COMPOSED if c not in SINGLE_STEP),
}


def tensors(scenes: SceneSet, rows: np.ndarray | slice = slice(None)) -> tuple[torch.Tensor, ...]:
    """The model's inputs of ``scenes[rows]`` and their truths, as tensors."""
    return tuple(torch.as_tensor(a[rows]) for a in scenes.arrays())


def scene_loss(
    model: SceneModel,
    scores: SceneScores,
    categories: torch.Tensor,
    truths: torch.Tensor,
    lam: float,
) -> torch.Tensor:
    """The relation and category losses of a batch, plus ``lam`` times Omega."""
    pairs = scores.pairs[:, None].expand_as(scores.logits)
    relation = F.binary_cross_entropy_with_logits(
        scores.logits[pairs], truths[pairs].float(), reduction="sum"
    )
    objects = categories >= 0
    onehot = F.one_hot(categories.clamp_min(0), len(CATEGORIES)).float()
    unary = F.binary_cross_entropy_with_logits(
        scores.unary.transpose(1, 2)[objects], onehot[objects], reduction="sum"
    )
    loss = (relation + unary) / len(truths)
    if lam > 0 and model.rules is not None:
        heads = truths[:, list(COMPOSED_IDS)]
        loss = loss + lam * omega(model.rules, scores.bodies, heads, scores.pairs)
    return loss


def omega(
    rules: NeuroRule, bodies: torch.Tensor, heads: torch.Tensor, pairs: torch.Tensor
) -> torch.Tensor:
    """NeuroRule's Omega over a batch: Omega_sparsity, the L1 norm of the rule weights per head
    relation, plus Omega_semantic, how far each rule's body is from its head, weighted by the
    rule's share of its head's weights: the mean of (1 - body) where the head holds and of the
    body where it does not (one minus the body's balanced accuracy as a soft classifier of the
    head). Both sides count: a body true wherever the head holds but also elsewhere (``above``
    for ``travel_on``) is no more coherent than one that misses half the head's pairs. The
    shares are constants of the step: the term moves the bodies towards their heads, not the
    weights away from the rules whose bodies are still unsure (which, with the shares
    trained, left one single-atom rule per head).
    ``bodies`` (B, H, T, M, M), ``heads`` (B, H, M, M) the head truths, ``pairs`` (B, M, M)."""
    sparsity = rules.alpha.abs().sum() / len(rules.heads)
    body = bodies.clamp(max=1.0)
    positive = (heads & pairs[:, None]).unsqueeze(2).float()  # (B, H, 1, M, M)
    negative = (~heads & pairs[:, None]).unsqueeze(2).float()
    sums = (0, 3, 4)
    missed = ((1.0 - body) * positive).sum(sums) / positive.sum(sums).clamp_min(1.0)
    wrong = (body * negative).sum(sums) / negative.sum(sums).clamp_min(1.0)  # (H, T)
    alpha = rules.alpha.detach().abs()
    weight = alpha / alpha.sum(dim=1, keepdim=True).clamp_min(1e-12)
    semantic = (weight * (missed + wrong) / 2).sum(dim=1).mean()
    return sparsity + semantic


def scene_scores(model: SceneModel, scenes: SceneSet, batch_size: int = 64) -> np.ndarray:
    """The probability of every relation on every pair of every scene, (N, P, M, M)."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(scenes), batch_size):
            images, boxes, categories, counts, _ = tensors(scenes, slice(start, start + batch_size))
            out.append(torch.sigmoid(model(images, boxes, categories, counts).logits).numpy())
    return np.concatenate(out)


def evaluate(model: SceneModel, scenes: SceneSet) -> dict[str, float]:
    """PredCls recalls of all relations, ``composed ...`` those of the composed only, ``AP
    <predicate>`` each predicate's average precision, ``composed AP`` their mean over the
    composed relations and ``single-step AP``, ``through-object AP`` over those of each kind
    (:data:`KINDS`; the relations with a true triple in ``scenes`` only)."""
    scores = scene_scores(model, scenes)
    report = recalls(scores, scenes.truths, scenes.counts)
    composed = recalls(scores, scenes.truths, scenes.counts, predicates=COMPOSED_IDS)
    report.update({f"composed {k}": v for k, v in composed.items()})
    precisions = average_precisions(scores, scenes.truths, scenes.counts)
    report.update({f"AP {PREDICATES[q]}": v for q, v in precisions.items()})
    for name, ids in {"composed": COMPOSED_IDS, **KINDS}.items():
        present = [precisions[q] for q in ids if q in precisions]
        report[f"{name} AP"] = float(np.mean(present)) if present else float("nan")
    return report


def unfold(body: tuple[tuple[str, bool], ...]) -> tuple[tuple[str, bool], ...]:
    """A rule body with each composed relation replaced by its planted body (an inverse one by
    the planted body reversed, each atom inverted): what it means over the primitives."""
    out: list[tuple[str, bool]] = []
    for predicate, inverse in body:
        if predicate not in PLANTED:
            out.append((predicate, inverse))
        elif inverse:
            out.extend((p, not inv) for p, inv in reversed(PLANTED[predicate]))
        else:
            out.extend(unfold(PLANTED[predicate]))
    return tuple(out)


def kept_rules(model: SceneModel, share: float = 0.5) -> list[LearnedRule]:
    """The discretised rules that carry weight: of each composed relation, the rules whose
    weight alpha is at least ``share`` of that head's largest, one per distinct body."""
    rules = learned_rules(model.rules, top=model.rules.rules)
    kept, seen = [], set()
    for rule in rules:
        top = max(r.weight for r in rules if r.head == rule.head)
        if rule.weight > 0 and rule.weight >= share * top and (rule.head, rule.body) not in seen:
            seen.add((rule.head, rule.body))
            kept.append(rule)
    return kept


def rule_recovery(model: SceneModel) -> dict:
    """Precision (kept rules that are planted ones, after :func:`unfold`) and recall (planted
    rules among the kept) of the learned rules, with both lists as text."""
    kept = kept_rules(model)
    correct = [r for r in kept if unfold(r.body) == PLANTED[r.head]]
    found = {r.head for r in correct}
    return {
        "precision": 100 * len(correct) / len(kept) if kept else 0.0,
        "recall": 100 * len(found) / len(PLANTED),
        "kept": [str(r) for r in kept],
        "planted": [rule_text(head, body) for head, body in PLANTED.items()],
    }


def seconds_per_image(model: SceneModel, scenes: SceneSet, repeats: int = 3) -> float:
    """The best of ``repeats`` timings of scoring ``scenes`` (batches of 64), per image."""
    best = np.inf
    for _ in range(repeats):
        began = time.perf_counter()
        scene_scores(model, scenes)
        best = min(best, time.perf_counter() - began)
    return best / len(scenes)


def train_scenes(
    config: SceneConfig, splits: dict[str, SceneSet] | None = None, return_model: bool = False
) -> dict:
    """Train ``config`` on ``splits`` (default: generated from its data options) and return its
    test report (see the module docstring); with ``return_model`` also ``model``."""
    start = time.perf_counter()
    if splits is None:
        splits = scene_splits(config.scenes, config.data_seed, config.canvas, config.noise)
    model = build_scene_model(config)
    rules = [] if model.rules is None else list(model.rules.parameters())
    ids = {id(p) for p in rules}
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in model.parameters() if id(p) not in ids]},
            {"params": rules, "lr": config.rule_lr, "weight_decay": 0.0},
        ],
        lr=config.lr,
        weight_decay=config.weight_decay,
    )
    generator = torch.Generator().manual_seed(config.seed)
    train = splits["train"]
    best, best_score, best_epoch, stale = copy.deepcopy(model), -1.0, 0, 0
    history, epoch_seconds = [], []
    for epoch in range(config.epochs):
        began = time.perf_counter()
        model.train()
        losses = []
        lam = config.lam * min(1.0, (epoch + 1) / config.warmup)
        order = torch.randperm(len(train), generator=generator).numpy()
        batches = np.array_split(order, max(1, len(order) // config.batch_size))
        for rows in tqdm(batches, f"epoch {epoch + 1}", disable=not config.progress, leave=False):
            images, boxes, categories, counts, truths = tensors(train, rows)
            scores = model(images, boxes, categories, counts)
            loss = scene_loss(model, scores, categories, truths, lam)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        epoch_seconds.append(time.perf_counter() - began)
        scenes = splits["valid"]
        valid = recalls(scene_scores(model, scenes), scenes.truths, scenes.counts, (50,))["mR@50"]
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "valid_mR@50": valid})
        if epoch + 1 < min(config.warmup, config.epochs):
            continue  # Omega below its weight: not the model asked for (same window for all)
        if valid > best_score:
            best, best_score, best_epoch, stale = copy.deepcopy(model), valid, epoch + 1, 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    model = best.eval()
    metrics = {
        "test": evaluate(model, splits["test"]),
        "zero_shot": evaluate(model, splits["zero_shot"]),
        "valid_mR@50": best_score,
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "history": history,
        "seconds_per_epoch": float(np.mean(epoch_seconds)),
        "train_seconds_per_image": float(np.mean(epoch_seconds)) / len(train),
        "test_seconds_per_image": seconds_per_image(model, splits["test"]),
        "total_seconds": time.perf_counter() - start,
        "parameters": {
            "perception": sum(p.numel() for p in model.perception.parameters()),
            "all": sum(p.numel() for p in model.parameters()),
        },
        "config": asdict(config),
    }
    if model.rules is not None:
        metrics["rules"] = rule_recovery(model)
    if return_model:
        metrics["model"] = model
    return metrics
