"""Generated terrain maps in the style of the Warcraft shortest-path benchmark.

A map is an N x N grid of five terrain classes with the benchmark's vertex costs
(:data:`COSTS`). Regions are spatially coherent: a Gaussian-smoothed random field, cut into
classes at fixed levels (so that a class borders its neighbours in level, as shores border
water). Each cell is drawn as an 8 x 8 RGB tile: its class's texture, flipped at random, with
pixel noise and a small colour shift of its own, so that a network must learn to see the class
and cannot read it off one pixel. Tiles are rendered on the fly from (map seed, cell), so a
data set holds only its class maps and path labels.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

#: Vertex cost of each terrain class (the Warcraft maps' published costs).
COSTS = (0.8, 1.2, 5.3, 7.7, 9.2)
#: The class names, for plots.
NAMES = ("grass", "plain", "forest", "hills", "water")
#: Pixels per cell side.
TILE = 8
#: Class of each level of the smoothed field, low to high: water lies lowest, then grass,
#: plain, forest and hills, so costs are not monotone in the field and cheap routes wind.
LEVEL_CLASSES = (4, 0, 1, 2, 3)
#: The field's quantiles that separate the levels (the share of cells below each cut).
CUTS = (0.12, 0.42, 0.66, 0.84)
#: Base colour (RGB in [0, 1]) of each class's texture.
_COLOURS = np.array(
    [[0.35, 0.65, 0.25], [0.75, 0.7, 0.4], [0.1, 0.35, 0.15], [0.5, 0.45, 0.4], [0.2, 0.35, 0.7]]
)


def class_maps(count: int, size: int, seed: int, smoothing: float = 1.5) -> np.ndarray:
    """(count, size, size) int8 terrain classes: a white-noise field per map smoothed with a
    Gaussian of ``smoothing`` cells, cut into levels at the pooled quantiles :data:`CUTS`."""
    rng = np.random.default_rng(seed)
    field = gaussian_filter(
        rng.standard_normal((count, size, size)), (0, smoothing, smoothing), mode="reflect"
    )
    field /= field.std(axis=(1, 2), keepdims=True)
    levels = np.searchsorted(np.quantile(field, CUTS), field)
    return np.asarray(LEVEL_CLASSES, dtype=np.int8)[levels]


def textures() -> np.ndarray:
    """(5, 3, 8, 8) float32: one fixed texture per class (its colour with a class pattern:
    grass speckles, plain stripes, forest blobs, hills diagonals, water waves)."""
    y, x = np.mgrid[0:TILE, 0:TILE] / TILE
    rng = np.random.default_rng(12345)
    patterns = np.stack(
        [
            0.25 * rng.standard_normal((TILE, TILE)),
            0.2 * np.sign(np.sin(2 * np.pi * 2 * y)),
            -0.3 * (np.hypot(x - 0.5, y - 0.5) < 0.3) + 0.1 * rng.standard_normal((TILE, TILE)),
            0.25 * np.sin(2 * np.pi * 2 * (x + y)),
            0.2 * np.sin(2 * np.pi * (1.5 * x + 0.3 * np.sin(2 * np.pi * y))),
        ]
    )
    out = _COLOURS[:, :, None, None] * (1 + patterns[:, None])
    return np.clip(out, 0, 1).astype(np.float32)


_TEXTURES = textures()
#: Pixel noise tiles that the cells draw from (a fixed bank: rendering stays cheap).
_NOISE = np.random.default_rng(54321).standard_normal((4096, 3, TILE, TILE)).astype(np.float32)


def render(classes: np.ndarray, seeds: np.ndarray, noise: float = 0.06) -> np.ndarray:
    """(B, 3, 8N, 8N) float32 images of the maps ``classes`` (B, N, N); map b's per-tile
    variation (flips, pixel noise of std ``noise``, a colour shift) from ``seeds[b]``."""
    batch, size = classes.shape[0], classes.shape[1]
    flips = np.empty((batch, 2, size, size), dtype=bool)
    shifts = np.empty((batch, size, size, 3, 1, 1), dtype=np.float32)
    draws = np.empty((batch, size, size), dtype=np.int64)
    for b in range(batch):
        rng = np.random.default_rng(int(seeds[b]))
        flips[b] = rng.random((2, size, size)) < 0.5
        shifts[b] = rng.uniform(-0.06, 0.06, (size, size, 3, 1, 1))
        draws[b] = rng.integers(len(_NOISE), size=(size, size))
    tiles = _TEXTURES[classes]  # (B, N, N, 3, 8, 8)
    tiles = np.where(flips[:, 0, :, :, None, None, None], tiles[..., ::-1, :], tiles)
    tiles = np.where(flips[:, 1, :, :, None, None, None], tiles[..., ::-1], tiles)
    tiles = tiles + shifts + noise * _NOISE[draws]
    # (B, N, N, 3, 8, 8) -> (B, 3, N, 8, N, 8) -> (B, 3, 8N, 8N)
    images = tiles.transpose(0, 3, 1, 4, 2, 5).reshape(batch, 3, size * TILE, size * TILE)
    return np.clip(images, 0, 1)
