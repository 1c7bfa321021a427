"""SATNet in pure PyTorch: the mixing-method solve as an autograd Function, implicit backward.

``satnet_solve`` is the functional core (the clause matrix, the probabilities, which of them are
given, the random initial vectors); ``SATNet`` is the ``nn.Module`` that owns a learnable clause
matrix and draws the random vectors from its own seeded generator. ``satnet_unrolled`` runs the
same iterations under plain autograd, the baseline the implicit backward is tested and
benchmarked against.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from nesy_models.satnet.checks import check_given_values, check_shapes, default_k
from nesy_models.satnet.errors import SATNetError, SATNetWarning
from nesy_models.satnet.torch_mixing import (
    adjoint_gradients,
    first_zero_norm,
    gradient_norms,
    mix_adjoint,
    mix_forward,
    output_probabilities,
    relax_inputs,
)


def _with_truth(z: torch.Tensor, is_input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Prepend the truth variable (given, value 1); values that are not given become 0."""
    ones = torch.ones_like(z[:, :1])
    given = torch.cat([torch.ones_like(is_input[:, :1]), is_input], dim=1)
    return torch.where(given, torch.cat([ones, z], dim=1), 0.0), given


def _output_gradient(vectors: torch.Tensor, grad: torch.Tensor, free: torch.Tensor) -> torch.Tensor:
    """dl/dv_o projected on the tangent space of v_o, from dl/dz_o (z_o = arccos(-v_o.v_0)/pi).

    On the truth axis (z_o = 0 or 1 to rounding) the direction is undefined: the gradient is
    zero there, with a warning when the loss pulls z_o back from the bound.
    """
    v0 = vectors[:, :1]
    towards = v0 - (vectors * v0).sum(-1, keepdim=True) * vectors
    sin = torch.linalg.vector_norm(towards, dim=-1)
    grad = torch.where(free, grad, 0.0)
    cos = (vectors * v0).sum(-1)
    axis = sin <= torch.finfo(sin.dtype).eps
    if bool((axis & (grad * cos > 0)).any()):
        warnings.warn(
            "SATNet backward: an output variable lies on the truth axis (z = 0 or 1) while the "
            "loss pulls it back, where d arccos is unbounded and the direction undefined; its "
            "gradient is taken as zero",
            SATNetWarning,
            stacklevel=3,
        )
    scale = grad / (math.pi * sin.clamp_min(torch.finfo(sin.dtype).eps))
    return torch.where(axis.unsqueeze(-1), 0.0, scale.unsqueeze(-1) * towards)


class MixingFunction(torch.autograd.Function):
    """Forward: mixing-method coordinate descent. Backward: coordinate descent on the adjoint."""

    @staticmethod
    def forward(ctx, S, z, is_input, init, max_iter, eps):  # noqa: D102
        z_full, given = _with_truth(z, is_input)
        free = ~given
        start, directions = relax_inputs(z_full, given, init)
        vectors, _ = mix_forward(S, start, free, max_iter, eps)
        norms = gradient_norms(S, vectors)
        ctx.zero_norm = first_zero_norm(S, norms, free)
        if ctx.zero_norm is not None:
            warnings.warn(
                f"SATNet: variable {ctx.zero_norm[1]} of batch element {ctx.zero_norm[0]} "
                "has a zero gradient norm ||g_i||: the clauses do not constrain it, its output "
                "is arbitrary and the backward pass will raise",
                SATNetWarning,
                stacklevel=3,
            )
        out = torch.where(given, z_full, output_probabilities(vectors))[:, 1:]
        ctx.save_for_backward(S, vectors, directions, z_full, given, norms)
        ctx.max_iter, ctx.eps = max_iter, eps
        return out

    @staticmethod
    def backward(ctx, grad_out):  # noqa: D102
        S, vectors, directions, z_full, given, norms = ctx.saved_tensors
        if ctx.zero_norm is not None:
            b, i = ctx.zero_norm
            raise SATNetError(
                f"SATNet backward: variable {i} of batch element {b} has a zero gradient norm "
                f"||g_i||, so the solution is not differentiable there (the implicit backward "
                f"divides by ||g_i||); check that row {i} of S is not zero"
            )
        free = ~given
        grad = torch.cat([torch.zeros_like(grad_out[:, :1]), grad_out], dim=1)
        xi = _output_gradient(vectors, grad, free)
        adjoint = mix_adjoint(S, vectors, free, xi, norms, ctx.max_iter, ctx.eps)
        grad_s, grad_v = adjoint_gradients(S, vectors, adjoint)
        angle = math.pi * z_full.unsqueeze(-1)
        dv_dz = math.pi * (torch.sin(angle) * vectors[:, :1] + torch.cos(angle) * directions)
        grad_z = torch.where(given, grad + (grad_v * dv_dz).sum(-1), 0.0)[:, 1:]
        if not (bool(torch.isfinite(grad_s).all()) and bool(torch.isfinite(grad_z).all())):
            raise SATNetError(
                "SATNet backward: non-finite gradient (the adjoint solve diverged or the "
                "upstream gradient is not finite); try a larger max_iter or a smaller eps"
            )
        return grad_s, grad_z, None, None, None, None


def _checked(S: torch.Tensor, z: torch.Tensor, is_input: torch.Tensor, init: torch.Tensor):
    where = "SATNet"
    check_shapes(tuple(z.shape), tuple(is_input.shape), S.shape[0] - 1, where)
    if init.dim() != 3 or init.shape[:2] != (z.shape[0], S.shape[0]):
        raise SATNetError(
            f"{where}: init must have shape (batch, {S.shape[0]}, k), got {tuple(init.shape)}"
        )
    is_input = is_input.to(torch.bool)
    check_given_values(z.detach().cpu().numpy(), is_input.cpu().numpy(), where)
    return z.to(S.dtype), is_input, init.to(S)


def satnet_solve(
    S: torch.Tensor,
    z: torch.Tensor,
    is_input: torch.Tensor,
    init: torch.Tensor,
    max_iter: int = 40,
    eps: float = 1e-4,
) -> torch.Tensor:
    """Fill in the variables that are not given, differentiably in ``S`` and ``z``.

    ``S`` (N, m): clause matrix, row 0 for the truth direction; ``z`` (B, N-1) probabilities of
    variables 1..N-1 (values where ``is_input`` is false are ignored); ``is_input`` (B, N-1);
    ``init`` (B, N, k) random vectors. Returns (B, N-1): the given values where ``is_input``,
    the relaxed MaxSAT solution elsewhere.
    """
    z, is_input, init = _checked(S, z, is_input, init)
    return MixingFunction.apply(S, z, is_input, init, max_iter, eps)


def satnet_unrolled(
    S: torch.Tensor,
    z: torch.Tensor,
    is_input: torch.Tensor,
    init: torch.Tensor,
    max_iter: int = 40,
    eps: float = 1e-4,
) -> torch.Tensor:
    """:func:`satnet_solve` with autograd through every coordinate step instead of the adjoint."""
    z, is_input, init = _checked(S, z, is_input, init)
    z_full, given = _with_truth(z, is_input)
    start, _ = relax_inputs(z_full, given, init)
    vectors, _ = mix_forward(S, start, ~given, max_iter, eps, differentiable=True)
    return torch.where(given, z_full, output_probabilities(vectors))[:, 1:]


class SATNet(nn.Module):
    """A SATNet layer: n variables, m learnable clauses, ``aux`` auxiliary variables.

    ``forward(z, is_input)`` takes probabilities z (B, n) and a mask is_input (B, n) of the given
    ones and returns z (B, n) with the others filled in. The clause matrix S (n + 1 + aux, m) is
    initialised N(0, 0.5 / (n + 1 + aux + m)) as in the SATNet code; every call draws fresh
    random initial vectors from a generator seeded with ``seed``, so a run is reproducible.
    ``k`` defaults to ceil(sqrt(2 (n + 1 + aux))) + 1.
    """

    def __init__(
        self,
        n: int,
        m: int,
        aux: int = 0,
        k: int | None = None,
        max_iter: int = 40,
        eps: float = 1e-4,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        if n < 1 or m < 1 or aux < 0 or max_iter < 1 or (k is not None and k < 2):
            raise SATNetError(
                "SATNet: needs n, m, max_iter >= 1, aux >= 0 and k >= 2 (or None); got "
                f"n={n}, m={m}, aux={aux}, k={k}, max_iter={max_iter}"
            )
        self.n, self.m, self.aux = n, m, aux
        self.num_vars = n + 1 + aux
        self.k = default_k(self.num_vars) if k is None else k
        self.max_iter, self.eps = max_iter, eps
        self._generator = torch.Generator().manual_seed(seed)
        scale = math.sqrt(0.5 / (self.num_vars + m))
        weights = torch.randn(self.num_vars, m, generator=self._generator, dtype=torch.float64)
        self.S = nn.Parameter((weights * scale).to(dtype))

    def random_init(self, batch: int) -> torch.Tensor:
        """The next (batch, N, k) random initial vectors (drawn in float64 on the CPU)."""
        init = torch.randn(
            batch, self.num_vars, self.k, generator=self._generator, dtype=torch.float64
        )
        return init.to(self.S)

    def forward(
        self, z: torch.Tensor, is_input: torch.Tensor, init: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Probabilities (B, n): the given ones unchanged, the others solved."""
        check_shapes(tuple(z.shape), tuple(is_input.shape), self.n, "SATNet.forward")
        batch = z.shape[0]
        z = torch.cat([z.to(self.S.dtype), z.new_zeros(batch, self.aux, dtype=self.S.dtype)], 1)
        is_input = torch.cat(
            [is_input.to(torch.bool), is_input.new_zeros(batch, self.aux, dtype=torch.bool)], 1
        )
        init = self.random_init(batch) if init is None else init
        out = satnet_solve(self.S, z, is_input, init, self.max_iter, self.eps)
        return out[:, : self.n]

    def extra_repr(self) -> str:  # noqa: D102
        return f"n={self.n}, m={self.m}, aux={self.aux}, k={self.k}, max_iter={self.max_iter}"
