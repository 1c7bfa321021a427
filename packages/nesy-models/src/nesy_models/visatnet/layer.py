"""The Vi-SATNet layer: SATNet's mixing method run directly on unit feature vectors.

Source section 3.2: a feature vector v_i in R^K *is* the relaxation of variable i, so unlike
SATNet (which maps probabilities z_i to vectors through a random direction) the layer takes
vectors in and gives vectors out, with embedding width k = K. Variable 0 is SATNet's truth
direction, fixed to the uniform unit vector (it is given, never solved); variables 1..n are the
feature vectors; ``aux`` auxiliary variables follow; the last K variables are the coordinate
axes e_1..e_K, given. SATNet's relaxation is rotation invariant (its inputs are placed relative
to a random v_0), but feature vectors live in a fixed basis, and a solved vector is the
normalised combination -sum_j c_oj v_j of the others: with v_0 alone as a constant, the layer
could not even return a position's mean direction (measured: its loss stayed above that
baseline's). The axes, with learnable rows of S, generalise the truth direction to a frame.
Free variables (the masked feature vectors and the auxiliaries) start at the uniform unit
vector (source Alg. 4, line 1), so the forward pass is deterministic. Forward and implicit
backward are the coordinate-descent sweeps of :mod:`nesy_models.satnet.torch_mixing`
(source Alg. 4 and 5); the loss is eq. 5.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nesy_models.satnet.errors import SATNetError
from nesy_models.satnet.torch_mixing import (
    adjoint_gradients,
    first_zero_norm,
    gradient_norms,
    mix_adjoint,
    mix_forward,
)
from nesy_models.visatnet.errors import ViSATNetError
from nesy_models.visatnet.features import uniform_vector


class VectorMixing(torch.autograd.Function):
    """Solve the free vectors of V (B, N, K); backward by coordinate descent on the adjoint."""

    @staticmethod
    def forward(ctx, S, vectors, free, max_iter, eps):  # noqa: D102
        solved, _ = mix_forward(S, vectors, free, max_iter, eps)
        norms = gradient_norms(S, solved)
        ctx.zero_norm = first_zero_norm(S, norms, free)
        ctx.save_for_backward(S, solved, free, norms)
        ctx.max_iter, ctx.eps = max_iter, eps
        return solved

    @staticmethod
    def backward(ctx, grad_out):  # noqa: D102
        S, solved, free, norms = ctx.saved_tensors
        if ctx.zero_norm is not None:
            b, i = ctx.zero_norm
            raise SATNetError(
                f"Vi-SATNet backward: variable {i} of batch element {b} has a zero gradient "
                f"norm ||g_i||: row {i} of S does not constrain it, so it is not differentiable"
            )
        grad = torch.where(free.unsqueeze(-1), grad_out, 0.0)
        xi = grad - (grad * solved).sum(-1, keepdim=True) * solved
        adjoint = mix_adjoint(S, solved, free, xi, norms, ctx.max_iter, ctx.eps)
        grad_s, grad_v = adjoint_gradients(S, solved, adjoint)
        grad_vectors = torch.where(free.unsqueeze(-1), 0.0, grad_out + grad_v)
        if not bool(torch.isfinite(grad_s).all()):
            raise SATNetError("Vi-SATNet backward: non-finite gradient of S (adjoint diverged)")
        return grad_s, grad_vectors, None, None, None


class ViSATNet(nn.Module):
    """One Vi-SATNet: n feature vectors of dimension k, m learnable clauses, ``aux`` auxiliaries.

    ``forward(vectors, mask)`` takes unit vectors (B, n, k) and a mask (B, n) of the missing
    ones and returns (B, n, k): the given vectors unchanged, the masked ones re-generated. S
    (1 + n + aux + k, m) is initialised N(0, 0.5 / (1 + n + aux + k + m)) as in the SATNet
    code (rows: truth, features, auxiliaries, axes).
    """

    def __init__(
        self,
        n: int,
        k: int,
        m: int,
        aux: int = 0,
        max_iter: int = 40,
        eps: float = 1e-4,
        seed: int = 0,
    ):
        super().__init__()
        if n < 1 or k < 2 or m < 1 or aux < 0 or max_iter < 1:
            raise ViSATNetError(
                f"ViSATNet: needs n, m, max_iter >= 1, k >= 2, aux >= 0; got n={n}, k={k}, "
                f"m={m}, aux={aux}, max_iter={max_iter}"
            )
        self.n, self.k, self.m, self.aux = n, k, m, aux
        self.max_iter, self.eps = max_iter, eps
        num_vars = 1 + n + aux + k
        generator = torch.Generator().manual_seed(seed)
        scale = math.sqrt(0.5 / (num_vars + m))
        self.S = nn.Parameter(torch.randn(num_vars, m, generator=generator) * scale)

    def forward(self, vectors: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Feature vectors (B, n, k) with the masked ones (mask (B, n) true) re-generated."""
        if vectors.dim() != 3 or vectors.shape[1:] != (self.n, self.k):
            raise ViSATNetError(
                f"ViSATNet: vectors must be (batch, {self.n}, {self.k}), got {tuple(vectors.shape)}"
            )
        if mask.shape != vectors.shape[:2]:
            raise ViSATNetError(
                f"ViSATNet: mask must be {tuple(vectors.shape[:2])}, got {tuple(mask.shape)}"
            )
        if not bool(torch.isfinite(vectors).all()):
            raise ViSATNetError("ViSATNet: feature vectors contain NaN or infinite values")
        batch = vectors.shape[0]
        vectors = vectors.to(self.S.dtype)
        uniform = uniform_vector(self.k, self.S).expand(batch, 1, self.k)
        aux = uniform.expand(batch, self.aux, self.k)
        axes = torch.eye(self.k, dtype=self.S.dtype, device=self.S.device).expand(batch, -1, -1)
        features = torch.where(mask.unsqueeze(-1), uniform, vectors)
        full = torch.cat([uniform, features, aux, axes], 1)
        free = torch.cat(
            [
                mask.new_zeros(batch, 1, dtype=torch.bool),
                mask.to(torch.bool),
                mask.new_ones(batch, self.aux, dtype=torch.bool),
                mask.new_zeros(batch, self.k, dtype=torch.bool),
            ],
            1,
        )
        solved = VectorMixing.apply(self.S, full, free, self.max_iter, self.eps)
        return solved[:, 1 : 1 + self.n]

    def extra_repr(self) -> str:  # noqa: D102
        return f"n={self.n}, k={self.k}, m={self.m}, aux={self.aux}, max_iter={self.max_iter}"


def cosine_loss(regenerated: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 5: mean of 1 - cos(v_hat_o, v_o) over the masked positions (0 when none is masked)."""
    cos = torch.nn.functional.cosine_similarity(regenerated, truth, dim=-1)
    weight = mask.to(cos.dtype)
    return ((1.0 - cos) * weight).sum() / weight.sum().clamp_min(1.0)
