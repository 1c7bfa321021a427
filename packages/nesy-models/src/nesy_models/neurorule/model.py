"""NeuroRule's differentiable rule-induction engine over a knowledge graph (dense |E| x |E|).

Predicates are the graph's relations, their inverses (``inv_r``, the transposed adjacency) and,
optionally, ``identity`` (so that a body of length L also expresses shorter rules). For every
head relation R the model has T chain rules of body length L; slot l of rule t picks a predicate
softly, ``beta = softmax(gamma[R, t, l])``, and its soft relation is ``sum_P beta_P A_P`` with
A_P the 0/1 adjacency of P. A rule's body is the smooth max over the intermediate entities of
the product of its slots (:mod:`.chain`), and

    logit R(s, o) = sum_t alpha[R, t] * body[R, t](s, o) + bias[R],   P(R(s, o)) = sigmoid(logit).

With ``mixed`` lengths, template t of a head has ``1 + t % L`` atoms (the source's "templates of
body length up to L"): its slots beyond that length are fixed to the identity.

With an ``embedding`` the logits also hold ``eta[R]`` times a ComplEx score of (s, R, o)
(:mod:`.embedding`; RNNLogic's rules-plus-embedding scoring).

With ``hops`` > 1 the rules are applied again (forward chaining): each relation's adjacency is
augmented by its predicted truths, ``A_R + (1 - A_R) * sigmoid(logit_R)``, before the next hop.

Rules may derive some relations only (``heads``: in a scene graph, the composed relations over
the primitive ones a perception network gives), and the adjacency may carry leading batch
dimensions (..., P, E, E): one small graph per image, every graph under the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from nesy_ir.errors import NesyError

from .chain import chain_log_body, log_truth
from .embedding import ComplEx

__all__ = [
    "IDENTITY",
    "INVERSE_PREFIX",
    "MAX_LENGTH",
    "NeuroRule",
    "NeuroRuleError",
    "Scores",
    "adjacency",
    "predicate_names",
]

MAX_LENGTH = 4  # the source's cap on a rule body's length
INVERSE_PREFIX = "inv_"
IDENTITY = "identity"


class NeuroRuleError(NesyError):
    """A NeuroRule model or input that cannot work (body length, shapes, ids)."""


def predicate_names(relations: Sequence[str], identity: bool = True) -> tuple[str, ...]:
    """The predicates of the rule bodies, in slot-logit order: the relations, their inverses
    (``inv_<relation>``) and, with ``identity``, the identity relation."""
    names = (*relations, *(INVERSE_PREFIX + r for r in relations))
    return (*names, IDENTITY) if identity else names


def adjacency(
    triples: np.ndarray,
    num_entities: int,
    num_relations: int,
    identity: bool = True,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The 0/1 adjacency (P, E, E) of the predicates of :func:`predicate_names`: ``A[r, h, t]``
    for each (h, r, t) of ``triples``, ``A[R + r] = A[r]`` transposed, and the identity last."""
    triples = np.array(triples, dtype=np.int64).reshape(-1, 3)  # a copy: torch wants writable
    if len(triples) and (
        triples[:, [0, 2]].max() >= num_entities or triples[:, 1].max() >= num_relations
    ):
        raise NeuroRuleError(
            f"triples have ids beyond {num_entities} entities / {num_relations} relations"
        )
    count = 2 * num_relations + int(identity)
    a = torch.zeros(count, num_entities, num_entities, dtype=dtype)
    h, r, t = (torch.as_tensor(triples[:, i]) for i in range(3))
    a[r, h, t] = 1.0
    a[r + num_relations, t, h] = 1.0
    if identity:
        a[-1] = torch.eye(num_entities, dtype=dtype)
    return a


@dataclass(frozen=True)
class Scores:
    """One forward pass: ``logits`` (..., H, E, E) of every head relation on every (s, o), and
    the last hop's rule bodies ``bodies`` (..., H, T, E, E), truths in [0, 1] up to the smooth max's
    slack (a smooth max exceeds the max by at most tau * log(number of paths))."""

    logits: torch.Tensor
    bodies: torch.Tensor


class NeuroRule(nn.Module):
    """T chain rules of body length L per head relation, over dense adjacency tensors.

    ``tau`` is the smooth max's temperature (1: the sum-product; towards 0: the max-product).
    ``relations`` names the relations, for the rules it prints (default ``r0``, ``r1``, ...).
    ``bias_init``: a relation starts false unless a rule supports it (sigmoid(-4) = 0.018), which
    the next hop reads; under the softmax loss the bias gets no gradient (it shifts all candidates
    alike), so it stays there: with ``hops`` = 2 on the family tree, bias 0 ranked at test MRR
    0.23, bias -4 at 0.81 to 0.91 (runs differing in rounding only).
    ``mixed``: templates of every length 1..L in turn (needs ``identity``), else all of L.
    ``heads``: the relations (ids) that rules derive, H of them (default: all R).
    ``embedding``: complex dimensions of a ComplEx embedding of the entities and the heads
    (0: none), whose scores, weighed per head by the buffer ``eta`` (H,) (0 until fitted), add
    to the logits.
    Parameters: ``gamma`` (H, T, L, P) slot logits, ``alpha`` (H, T) rule weights, ``bias`` (H,).
    """

    def __init__(
        self,
        num_entities: int,
        num_relations: int,
        rules: int = 4,
        length: int = 3,
        tau: float = 0.1,
        hops: int = 1,
        identity: bool = True,
        init_std: float = 0.5,
        relations: Sequence[str] | None = None,
        bias_init: float = -4.0,
        mixed: bool = False,
        heads: Sequence[int] | None = None,
        embedding: int = 0,
    ) -> None:
        super().__init__()
        if not 1 <= length <= MAX_LENGTH:
            raise NeuroRuleError(
                f"rule body length L={length} is not supported: NeuroRule's templates have"
                f" bodies of 1 to {MAX_LENGTH} atoms (L <= {MAX_LENGTH})"
            )
        for name, value in (("entities", num_entities), ("relations", num_relations)):
            if value < 1:
                raise NeuroRuleError(f"a NeuroRule model needs at least 1 of {name}, got {value}")
        if rules < 1 or hops < 1 or not tau > 0:
            raise NeuroRuleError(
                f"rules and hops must be at least 1 and tau above 0, got {rules}, {hops}, {tau}"
            )
        self.num_entities, self.num_relations = num_entities, num_relations
        self.rules, self.length, self.tau, self.hops = rules, length, float(tau), hops
        self.identity, self.mixed = identity, mixed
        if mixed and not identity:
            raise NeuroRuleError(
                "templates of mixed lengths need the identity predicate: a shorter rule's"
                " unused slots are the identity"
            )
        self.relations = tuple(relations or (f"r{i}" for i in range(num_relations)))
        if len(self.relations) != num_relations:
            raise NeuroRuleError(
                f"{len(self.relations)} relation names for {num_relations} relations"
            )
        self.heads = tuple(range(num_relations)) if heads is None else tuple(int(h) for h in heads)
        if (
            not self.heads
            or len(set(self.heads)) != len(self.heads)
            or not all(0 <= h < num_relations for h in self.heads)
        ):
            raise NeuroRuleError(
                f"heads must be distinct relation ids below {num_relations}, got {heads}"
            )
        self.register_buffer("head_ids", torch.tensor(self.heads), persistent=False)
        predicates = 2 * num_relations + int(identity)
        count = len(self.heads)
        self.gamma = nn.Parameter(init_std * torch.randn(count, rules, length, predicates))
        self.alpha = nn.Parameter(torch.ones(count, rules))
        self.bias = nn.Parameter(torch.full((count,), float(bias_init)))
        lengths = [1 + t % length if mixed else length for t in range(rules)]
        fixed = torch.arange(length)[None, :] >= torch.tensor(lengths)[:, None]  # (T, L)
        self.register_buffer("fixed", fixed, persistent=False)
        self.embedding = ComplEx(num_entities, count, embedding) if embedding else None
        # the embedding's weight in each head's logits
        self.register_buffer("eta", torch.zeros(count))

    @property
    def lengths(self) -> tuple[int, ...]:
        """The body length of each template (the same for every head relation)."""
        return tuple(int(n) for n in (~self.fixed).sum(dim=1))

    @property
    def head_names(self) -> tuple[str, ...]:
        """The names of the head relations, in the order of the parameters' first axis."""
        return tuple(self.relations[h] for h in self.heads)

    def head_index(self, relation: int) -> int:
        """The position among the heads of relation id ``relation`` (an error if rules do not
        derive it)."""
        if relation not in self.heads:
            raise NeuroRuleError(f"no rules derive relation {relation}: heads are {self.heads}")
        return self.heads.index(relation)

    @property
    def num_predicates(self) -> int:
        return self.gamma.shape[-1]

    def beta(self) -> torch.Tensor:
        """The soft predicate choice of every slot, (H, T, L, P), each slot summing to 1 (the
        identity, for certain, in a slot beyond its template's length)."""
        beta = torch.softmax(self.gamma, dim=-1)
        if not self.mixed:
            return beta
        identity = torch.zeros_like(beta[0, 0, 0])
        identity[-1] = 1.0
        return torch.where(self.fixed[None, :, :, None], identity, beta)

    def slot_truths(self, adjacency: torch.Tensor) -> torch.Tensor:
        """Every slot's soft relation ``sum_P beta_P A_P``: (..., H, T, L, E, E)."""
        self.check_adjacency(adjacency)
        *batch, p, e, _ = adjacency.shape
        flat = self.beta().reshape(-1, p) @ adjacency.reshape(*batch, p, e * e)
        return flat.reshape(*batch, *self.gamma.shape[:3], e, e)

    def log_bodies(self, adjacency: torch.Tensor) -> torch.Tensor:
        """The log body truth of every rule on every (s, o): (..., H, T, E, E)."""
        return chain_log_body(log_truth(self.slot_truths(adjacency)), self.tau)

    def forward(self, adjacency: torch.Tensor) -> Scores:
        """The logits of every head relation on every pair, after ``hops`` rounds of chaining
        from ``adjacency`` (..., P, E, E): the 0/1 facts of :func:`adjacency`, or soft truths."""
        scores = self.hop(self.last_adjacency(adjacency))
        if self.embedding is None:
            return scores
        return Scores(scores.logits + self.eta[:, None, None] * self.embedding(), scores.bodies)

    def hop(self, adjacency: torch.Tensor) -> Scores:
        """One application of the rules to ``adjacency``: logits and bodies."""
        bodies = torch.exp(self.log_bodies(adjacency))
        logits = torch.einsum("ht,...htso->...hso", self.alpha, bodies) + self.bias[:, None, None]
        return Scores(logits, bodies)

    def last_adjacency(self, adjacency: torch.Tensor) -> torch.Tensor:
        """The adjacency the last hop reads: ``adjacency`` itself for one hop, else chained
        with the predicted truths of the hops before."""
        for _ in range(self.hops - 1):
            adjacency = self.chained(adjacency, torch.sigmoid(self.hop(adjacency).logits))
        return adjacency

    def chained(self, adjacency: torch.Tensor, truths: torch.Tensor) -> torch.Tensor:
        """The adjacency of the next hop: each head relation's facts or its predicted truth
        (probabilistic sum), the other relations kept, the inverses transposed, the identity
        kept."""
        r = self.num_relations
        facts = adjacency[..., :r, :, :]
        own = facts.index_select(-3, self.head_ids)
        derived = facts.index_copy(-3, self.head_ids, own + (1.0 - own) * truths)
        return torch.cat([derived, derived.transpose(-1, -2), adjacency[..., 2 * r :, :, :]], -3)

    def check_adjacency(self, adjacency: torch.Tensor) -> None:
        """An error naming the expected shape unless ``adjacency`` is (..., P, E, E) for this
        model."""
        e = self.num_entities
        if tuple(adjacency.shape[-3:]) != (self.num_predicates, e, e):
            raise NeuroRuleError(
                f"adjacency must have shape (..., {self.num_predicates}, {e}, {e}) (predicates,"
                f" entities, entities), got {tuple(adjacency.shape)}"
            )
