"""What a trained NeuroRule model says: its rules, discretised, and the chains behind a triple.

- :func:`learned_rules`: each head's top rules by weight alpha, every slot at its most likely
  predicate (identity slots dropped), printed as ``0.81 grandparent(X, Z) :- parent(X, Y),
  parent(Y, Z).`` (an inverse predicate is written with its arguments swapped).
- :func:`explain`: for a triple (s, R, o), the rules of R ranked by their share of the score
  (alpha_t * body_t(s, o)), each with the entities it binds: the max-product path through the
  soft slot relations the model computes with (Viterbi over the intermediate entities, exact for
  the max-product the smooth max tends to), each step's soft truth and the predicate that gives
  most of it; and, for a model with an embedding, the embedding's share.
- :func:`export_program`: the discretised rules and the training facts as a ProbLog program for
  ``nesy_compile`` (each rule weight a probability, clipped into (0, 1)).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from nesy_compile.program import quote_name

from .model import NeuroRule, NeuroRuleError

__all__ = [
    "Chain",
    "Explanation",
    "LearnedRule",
    "Step",
    "explain",
    "export_program",
    "implied_pairs",
    "learned_rules",
    "rule_confidence",
    "rule_weight",
]

INTERMEDIATE = ("Y", "W", "V", "U")
EPSILON = 1e-3  # exported probabilities lie in [EPSILON, 1 - EPSILON]
#: The exported program's prefix of the known facts' relations: rule bodies read the facts, as
#: the model's do, so that no derived relation feeds a body (the program is not recursive).
KNOWN = "known_"


def chain_variables(length: int) -> list[str]:
    """The variables of a chain of ``length`` atoms: X, (Y, W, V ...), and Z (Y for one atom)."""
    if length == 0:
        return ["X", "X"]
    if length == 1:
        return ["X", "Y"]
    return ["X", *INTERMEDIATE[: length - 1], "Z"]


def atom_text(relation: str, inverse: bool, a: str, b: str, quote: bool = False) -> str:
    """``relation(a, b)``, or ``relation(b, a)`` for its inverse."""
    name = quote_name(relation) if quote else relation
    return f"{name}({b}, {a})" if inverse else f"{name}({a}, {b})"


@dataclass(frozen=True)
class LearnedRule:
    """A discretised rule: head relation, body atoms as (relation, inverse), its weight alpha,
    and the smallest slot probability of the chosen predicates (how crisp the slots are)."""

    head: str
    body: tuple[tuple[str, bool], ...]
    weight: float
    crispness: float
    head_index: int
    rule_index: int

    def text(self, quote: bool = False, facts: str = "") -> str:
        """The clause without its weight: ``head(X, Z) :- p(X, Y), q(Y, Z).``; ``facts``
        prefixes the body's relations (the exported program's names of the known facts)."""
        names = chain_variables(len(self.body))
        head = atom_text(self.head, False, names[0], names[-1], quote)
        if not self.body:
            return f"{head}."
        atoms = (
            atom_text(facts + rel, inv, names[i], names[i + 1], quote)
            for i, (rel, inv) in enumerate(self.body)
        )
        return f"{head} :- {', '.join(atoms)}."

    def __str__(self) -> str:
        return f"{self.weight:.2f} {self.text()}"


def slot_predicate(model: NeuroRule, index: int) -> tuple[str, bool] | None:
    """Predicate ``index`` as (relation, inverse), None for the identity."""
    r = model.num_relations
    if index < r:
        return model.relations[index], False
    if index < 2 * r:
        return model.relations[index - r], True
    return None


def learned_rules(model: NeuroRule, top: int = 3, heads: Iterable[str] | None = None) -> list:
    """Each head relation's ``top`` rules by weight alpha (all heads, or those in ``heads``),
    every slot at its argmax predicate: a list of :class:`LearnedRule`."""
    wanted = set(model.head_names if heads is None else heads)
    unknown = wanted - set(model.head_names)
    if unknown:
        raise NeuroRuleError(f"no head relation {sorted(unknown)[0]!r} in the model")
    with torch.no_grad():
        beta = model.beta()
        probability, choice = beta.max(dim=-1)  # (R, T, L)
        alpha = model.alpha.detach()
    rules = []
    for h, head in enumerate(model.head_names):
        if head not in wanted:
            continue
        for t in torch.argsort(alpha[h], descending=True)[:top].tolist():
            slots = (slot_predicate(model, int(p)) for p in choice[h, t])
            body = tuple(slot for slot in slots if slot is not None)
            crisp = float(probability[h, t].min())
            rules.append(LearnedRule(head, body, float(alpha[h, t]), crisp, h, t))
    return rules


@dataclass(frozen=True)
class Step:
    """One atom of a bound chain: ``predicate(subject, object)`` with its soft truth."""

    subject: str
    predicate: str
    object: str
    truth: float

    def __str__(self) -> str:
        return f"{self.predicate}({self.subject}, {self.object}) [{self.truth:.3f}]"


@dataclass(frozen=True)
class Chain:
    """One rule's part in a score: its text, weight alpha, smooth body truth, contribution
    alpha * body to the logit, and its best path (steps, path product)."""

    rule: str
    weight: float
    body: float
    contribution: float
    steps: tuple[Step, ...]
    path_truth: float

    def __str__(self) -> str:
        path = ", ".join(str(s) for s in self.steps) or "(no path)"
        return (
            f"{self.contribution:+.3f} = {self.weight:.2f} x {self.body:.3f}  {self.rule}\n"
            f"    via {path}  (path {self.path_truth:.3f})"
        )


@dataclass(frozen=True)
class Explanation:
    """A triple's logit and probability, and the chains of its head's top rules."""

    triple: tuple[str, str, str]
    logit: float
    probability: float
    bias: float
    chains: tuple[Chain, ...]
    #: the embedding's share of the logit, its head's eta times its score (None: it has none)
    embedding: float | None = None

    def __str__(self) -> str:
        s, r, o = self.triple
        lines = [f"{r}({s}, {o}): logit {self.logit:.3f}, P {self.probability:.3f}"]
        lines += [str(chain) for chain in self.chains]
        lines.append(f"{self.bias:+.3f} bias")
        if self.embedding is not None:
            lines.append(f"{self.embedding:+.3f} embedding (ComplEx)")
        return "\n".join(lines)


def best_path(log_slots: torch.Tensor, s: int, o: int) -> tuple[list[int], float]:
    """The entities z1 = s, ..., zk+1 = o maximising the product of the slots' truths
    (``log_slots`` (k, E, E)), and that log product: Viterbi over the intermediate entities."""
    score = log_slots[0, s]
    back = []
    for step in range(1, log_slots.shape[0]):
        candidates = score[:, None] + log_slots[step]  # (z, z')
        score, arg = candidates.max(dim=0)
        back.append(arg)
    path = [o]
    for arg in reversed(back):
        path.append(int(arg[path[-1]]))
    path.append(s)
    return path[::-1], float(score[o])


def explain(
    model: NeuroRule,
    adjacency: torch.Tensor,
    triple: Sequence[int],
    top: int = 3,
    entities: Sequence[str] | None = None,
) -> Explanation:
    """The reasoning chains behind ``triple`` (s, R, o) (ids) under the facts ``adjacency``:
    the ``top`` rules of R by contribution alpha_t * body_t(s, o) to the logit, each with its
    max-product path of bound entities. ``entities`` names the entities (default their ids)."""
    s, r, o = (int(x) for x in triple)
    if not (0 <= r < model.num_relations and 0 <= s < model.num_entities > o >= 0):
        raise NeuroRuleError(f"triple {tuple(triple)} has ids outside the model's graph")
    h = model.head_index(r)
    name = (lambda i: entities[i]) if entities is not None else str
    with torch.no_grad():
        facts = model.last_adjacency(adjacency)
        scores = model.hop(facts)
        beta = model.beta()[h]  # (T, L, P)
        slots = torch.einsum("tlp,pij->tlij", beta, facts)  # the slot relations of head r
        log_slots = torch.log(slots.clamp_min(torch.finfo(slots.dtype).tiny))
        bodies = scores.bodies[h, :, s, o]
        alpha = model.alpha[h].detach()
        contributions = alpha * bodies
    texts = {
        x.rule_index: x.text() for x in learned_rules(model, model.rules, [model.relations[r]])
    }
    chains = []
    for t in torch.argsort(contributions, descending=True)[:top].tolist():
        path, log_product = best_path(log_slots[t], s, o)
        steps = []
        for step, (a, b) in enumerate(zip(path, path[1:], strict=False)):
            weighted = beta[t, step] * facts[:, a, b]  # each predicate's part of the truth
            predicate = slot_predicate(model, int(weighted.argmax()))
            if predicate is None:
                label = "identity"
            else:
                label = f"{predicate[0]}^-1" if predicate[1] else predicate[0]
            steps.append(Step(name(a), label, name(b), float(slots[t, step, a, b])))
        chains.append(
            Chain(
                texts[t],
                float(alpha[t]),
                float(bodies[t]),
                float(contributions[t]),
                tuple(steps),
                float(np.exp(log_product)),
            )
        )
    logit, embedding = float(scores.logits[h, s, o]), None
    if model.embedding is not None:
        with torch.no_grad():
            embedding = float(model.eta[h] * model.embedding()[h, s, o])
        logit += embedding
    return Explanation(
        (name(s), model.relations[r], name(o)),
        logit,
        float(torch.sigmoid(torch.tensor(logit))),
        float(model.bias[h].detach()),
        tuple(chains),
        embedding,
    )


def implied_pairs(
    rule: LearnedRule, facts: np.ndarray, num_entities: int, relations: Sequence[str]
) -> np.ndarray:
    """The (s, o) pairs (bool (E, E)) for which the discretised ``rule``'s body holds on the
    triples ``facts``: a product of 0/1 relation matrices (the identity for an empty body)."""
    index = {name: i for i, name in enumerate(relations)}
    triples = np.asarray(facts, dtype=np.int64).reshape(-1, 3)
    holds = np.eye(num_entities, dtype=bool)
    for relation, inverse in rule.body:
        step = np.zeros((num_entities, num_entities), dtype=bool)
        chosen = triples[triples[:, 1] == index[relation]]
        step[chosen[:, 0], chosen[:, 2]] = True
        holds = (holds.astype(np.int64) @ (step.T if inverse else step).astype(np.int64)) > 0
    return holds


WEIGHTS = ("alpha", "confidence")


def rule_weight(rule: LearnedRule, confidence: float | None = None) -> float:
    """The probability a rule is exported with, clipped into (0, 1): its weight alpha, or
    ``confidence`` when given (see :func:`export_program`)."""
    value = rule.weight if confidence is None else confidence
    return float(np.clip(value, EPSILON, 1.0 - EPSILON))


def rule_confidence(rule: LearnedRule, facts: np.ndarray, num_entities: int, relations) -> float:
    """The share of the pairs the discretised body implies on ``facts`` whose head is a fact
    too (a rule miner's confidence); 0 when the body implies no pair."""
    implied = implied_pairs(rule, facts, num_entities, relations)
    head = implied_pairs(
        LearnedRule(rule.head, ((rule.head, False),), 1.0, 1.0, 0, 0),
        facts,
        num_entities,
        relations,
    )
    return float((implied & head).sum() / implied.sum()) if implied.any() else 0.0


def body_predicate(rule: LearnedRule) -> str:
    """The helper predicate holding a rule's body: ``<head>_rule<t>``."""
    return f"{rule.head}_rule{rule.rule_index}"


def export_program(
    model: NeuroRule,
    facts: np.ndarray,
    entities: Sequence[str],
    top: int = 3,
    heads: Iterable[str] | None = None,
    queries: Iterable[Sequence[int]] = (),
    weights: str = "alpha",
) -> str:
    """A ProbLog program of each head's ``top`` discretised rules (those of ``heads`` only when
    given; rules with a non-positive weight or an empty body left out), the triples ``facts``
    (ids, e.g. the training triples) as facts, and a ``query(...)`` per triple of ``queries``.

    Each rule is two clauses: ``<head>_rule<t>(X, Z) :- body.`` and ``p::head(X, Z) :-
    <head>_rule<t>(X, Z).``, so that a rule is one probabilistic choice per (X, Z), however many
    intermediate entities satisfy its body (the existential of the model, not a noisy-or over
    paths): P(head(s, o)) is the noisy-or of the p of the rules whose body holds. The bodies read
    the facts, written ``known_<relation>(a, b).``, as the model's bodies read the training
    graph: the program is not recursive, so a query grounds only its own rules. ``p`` is
    :func:`rule_weight`: alpha clipped into (0, 1) (``weights="alpha"``), or the rule's
    confidence on ``facts`` (``"confidence"``, :func:`rule_confidence`)."""
    if weights not in WEIGHTS:
        raise NeuroRuleError(f"unknown rule weights {weights!r}; expected one of {WEIGHTS}")
    facts = np.asarray(facts, dtype=np.int64).reshape(-1, 3)
    lines = [f"% NeuroRule's learned rules (weights: {weights}, clipped into (0, 1)) and facts."]
    for rule in learned_rules(model, top, heads):
        if rule.weight <= 0 or not rule.body:
            continue
        confidence = None
        if weights == "confidence":
            confidence = rule_confidence(rule, facts, len(entities), model.relations)
        first, last = chain_variables(len(rule.body))[:: len(rule.body)]
        helper = f"{quote_name(body_predicate(rule))}({first}, {last})"
        body = rule.text(quote=True, facts=KNOWN).split(" :- ", 1)[1]
        head = f"{quote_name(rule.head)}({first}, {last})"
        lines.append(f"% {rule}")
        lines.append(f"{helper} :- {body}")
        lines.append(f"{rule_weight(rule, confidence):.6g}::{head} :- {helper}.")
    names = [quote_name(e) for e in entities]
    relations = [quote_name(r) for r in model.relations]
    known = [quote_name(KNOWN + r) for r in model.relations]
    for h, r, t in facts.tolist():
        lines.append(f"{known[r]}({names[h]}, {names[t]}).")
    for h, r, t in (tuple(int(x) for x in q) for q in queries):
        lines.append(f"query({relations[r]}({names[h]}, {names[t]})).")
    return "\n".join(lines) + "\n"
