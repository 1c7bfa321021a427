"""How each category of :data:`.relations.CATEGORIES` is drawn: a mask over its box.

The colour of an object is random (its category must be read from its shape): a filled
triangle, a plus sign, a filled disc, a crate (a square with a hollow centre), a bar, a plank
(a bar in stripes) and a frame (a one-pixel outline).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["MASKS", "mask"]


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres scaled to [0, 1]: row coordinates (h, 1), column coordinates (1, w)."""
    return (np.arange(h)[:, None] + 0.5) / h, (np.arange(w)[None, :] + 0.5) / w


def _triangle(h: int, w: int) -> np.ndarray:
    y, x = _grid(h, w)
    return np.abs(x - 0.5) <= 0.5 * y + 0.5 / w


def _cross(h: int, w: int) -> np.ndarray:
    y, x = _grid(h, w)
    return (np.abs(x - 0.5) <= 0.18) | (np.abs(y - 0.5) <= 0.18)


def _disc(h: int, w: int) -> np.ndarray:
    y, x = _grid(h, w)
    return (x - 0.5) ** 2 + (y - 0.5) ** 2 <= 0.25 + 0.5 / (h * w)


def _crate(h: int, w: int) -> np.ndarray:
    y, x = _grid(h, w)
    return (np.abs(x - 0.5) >= 0.2) | (np.abs(y - 0.5) >= 0.2)


def _bar(h: int, w: int) -> np.ndarray:
    return np.ones((h, w), dtype=bool)


def _plank(h: int, w: int) -> np.ndarray:
    return np.broadcast_to((np.arange(w) // 2) % 2 == 0, (h, w)).copy()


def _frame(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), dtype=bool)
    m[[0, -1], :] = True
    m[:, [0, -1]] = True
    return m


MASKS: dict[str, Callable[[int, int], np.ndarray]] = {
    "triangle": _triangle,
    "cross": _cross,
    "disc": _disc,
    "crate": _crate,
    "bar": _bar,
    "plank": _plank,
    "frame": _frame,
}


def mask(category: str, h: int, w: int) -> np.ndarray:
    """The pixels (bool (h, w)) of an object of ``category`` drawn in an h x w box."""
    return MASKS[category](h, w)
