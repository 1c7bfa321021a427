"""A knowledge-graph embedding whose scores NeuroRule adds to its rules' (as RNNLogic adds
RotatE's to its rules' scores): ComplEx (Trouillon et al., 2016), regularised by the weighted
N3 norm (Lacroix et al., 2018).

Entity e and relation r are complex vectors; the score of (s, r, o) is
Re(sum_k e_s,k * w_r,k * conj(e_o,k)), asymmetric where w_r has an imaginary part. It is
trained apart from the rules, on the same queries and loss, and enters the model's logits
weighed by a factor per head relation chosen on its validation triples
(:func:`.train.fit_embedding`), so the rules stay what they are and an explanation shows the
embedding's share of each score.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ComplEx"]


class ComplEx(nn.Module):
    """``dim`` complex dimensions per entity and per relation; :meth:`forward` scores every
    relation on every pair, (R, E, E)."""

    def __init__(self, num_entities: int, num_relations: int, dim: int, init_std: float = 0.1):
        super().__init__()
        self.entity = nn.Parameter(init_std * torch.randn(2, num_entities, dim))  # re, im
        self.relation = nn.Parameter(init_std * torch.randn(2, num_relations, dim))

    def forward(self) -> torch.Tensor:
        (er, ei), (wr, wi) = self.entity, self.relation
        real = er * wr[:, None] - ei * wi[:, None]  # (R, E, d): e_s * w_r, real part
        imag = er * wi[:, None] + ei * wr[:, None]
        return real @ er.T + imag @ ei.T

    def penalty(self, batch: torch.Tensor) -> torch.Tensor:
        """The N3 norm of the queries' (B, 3) entities and relations, per query."""
        h, r, t = batch.unbind(1)
        entity = self.entity.pow(2).sum(0).sqrt()  # the moduli, (E, d)
        relation = self.relation.pow(2).sum(0).sqrt()
        cubes = entity[h].pow(3).sum() + entity[t].pow(3).sum() + relation[r].pow(3).sum()
        return cubes / len(batch)
