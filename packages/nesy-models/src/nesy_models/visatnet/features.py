"""Feature vectors of a CNN feature map (source eq. 1), their normalisation and masking.

Position i of an H x W map (row i // W, column i % W) gives the vector of its K channel values;
Vi-SATNet treats each as the relaxation of one variable, which SATNet needs as a unit vector.
A masked (or removed) vector is replaced by the uniform unit vector (1/sqrt(K), ..., 1/sqrt(K))
(source Definition 1 and section 4.2).
"""

from __future__ import annotations

import math

import torch

from nesy_models.visatnet.errors import ViSATNetError


def feature_vectors(fmap: torch.Tensor) -> torch.Tensor:
    """(B, H * W, K) feature vectors of a (B, K, H, W) feature map, row-major positions."""
    if fmap.dim() != 4:
        raise ViSATNetError(f"feature map must be (batch, K, H, W), got {tuple(fmap.shape)}")
    return fmap.flatten(2).transpose(1, 2)


def feature_map(vectors: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The (B, K, H, W) feature map of (B, H * W, K) vectors: the inverse of feature_vectors."""
    if vectors.dim() != 3 or vectors.shape[1] != height * width:
        raise ViSATNetError(
            f"feature vectors must be (batch, {height * width}, K), got {tuple(vectors.shape)}"
        )
    return vectors.transpose(1, 2).reshape(vectors.shape[0], -1, height, width)


def unit(vectors: torch.Tensor) -> torch.Tensor:
    """Each vector divided by its norm; a zero vector becomes the uniform unit vector."""
    norm = torch.linalg.vector_norm(vectors, dim=-1, keepdim=True)
    uniform = uniform_vector(vectors.shape[-1], vectors)
    return torch.where(norm > 0, vectors / norm.clamp_min(torch.finfo(vectors.dtype).tiny), uniform)


def uniform_vector(k: int, like: torch.Tensor) -> torch.Tensor:
    """The uniform unit vector of R^k, with ``like``'s dtype and device."""
    return torch.full((k,), 1.0 / math.sqrt(k), dtype=like.dtype, device=like.device)


def random_mask(
    batch: int, n: int, ratio: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(batch, n) bool, true on round(ratio * n) positions per row, drawn uniformly at random."""
    if not 0.0 <= ratio <= 1.0:
        raise ViSATNetError(f"mask ratio must be in [0, 1], got {ratio}")
    hidden = round(ratio * n)
    order = torch.rand(batch, n, generator=generator).argsort(dim=1)
    return order < hidden


def apply_mask(vectors: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``vectors`` (B, n, K) with the masked positions (B, n) set to the uniform unit vector."""
    if mask.shape != vectors.shape[:2]:
        raise ViSATNetError(
            f"mask must have shape {tuple(vectors.shape[:2])}, got {tuple(mask.shape)}"
        )
    uniform = uniform_vector(vectors.shape[-1], vectors)
    return torch.where(mask.unsqueeze(-1), uniform, vectors)
