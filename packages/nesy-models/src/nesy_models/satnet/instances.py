"""Random SATNet problems, for tests and benchmarks: a clause matrix, inputs and initial vectors."""

from __future__ import annotations

import torch

from nesy_models.satnet.checks import default_k


def random_instance(
    seed: int,
    batch: int,
    n: int,
    m: int,
    k: int | None = None,
    scale: float | None = None,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(S (n+1, m), z (B, n), is_input (B, n), init (B, n+1, k)) drawn from ``seed``.

    S is N(0, scale^2), by default scale^2 = 0.5 / (n + 1 + m) as the layer initialises it; z
    is uniform in [0.1, 0.9]; about half of the variables are given, and the first batch element
    has its first variable given and its second free.
    """
    gen = torch.Generator().manual_seed(seed)
    scale = (0.5 / (n + 1 + m)) ** 0.5 if scale is None else scale
    S = torch.randn(n + 1, m, generator=gen, dtype=torch.float64) * scale
    z = torch.rand(batch, n, generator=gen, dtype=torch.float64) * 0.8 + 0.1
    is_input = torch.rand(batch, n, generator=gen) < 0.5
    is_input[0, :2] = torch.tensor([True, False][:n])
    k = default_k(n + 1) if k is None else k
    init = torch.randn(batch, n + 1, k, generator=gen, dtype=torch.float64)
    return S.to(dtype), z.to(dtype), is_input, init.to(dtype)
