"""The shortest-path data sets: generated maps, their labels, and an optional cache file.

A split is a set of class maps with the optimal path of each (the label: an N x N 0/1 mask;
no costs or classes reach training) and one rendering seed per map. Generating 12,000 maps
takes seconds (a batched solver labels them), so the cache (``--cache FILE``) is for keeping a
data set as a file, not for speed: a file that exists is read and checked against the options
that made it; one that is not a data set of this kind is an error naming it, left untouched.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.errors import DataError
from .solver import shortest_paths
from .terrain import COSTS, class_maps, render

#: Maps in the train, validation and test splits (the benchmark's sizes).
SPLIT_SIZES = (10_000, 1_000, 1_000)


@dataclass(frozen=True)
class Maps:
    """``classes`` (E, N, N) int8 terrain classes, ``paths`` (E, N, N) bool optimal paths,
    ``seeds`` (E,) int64 rendering seeds."""

    classes: np.ndarray
    paths: np.ndarray
    seeds: np.ndarray

    def __len__(self) -> int:
        return len(self.classes)

    def images(self, rows: np.ndarray) -> torch.Tensor:
        """(len(rows), 3, 8N, 8N) float32: the rendered maps ``rows``."""
        return torch.from_numpy(render(self.classes[rows], self.seeds[rows]))

    def costs(self, rows: np.ndarray | slice = slice(None)) -> torch.Tensor:
        """(len(rows), N, N) float32: the true vertex costs of maps ``rows``."""
        return costs_of(self.classes[rows])


def cost_table() -> torch.Tensor:
    """(5,) float32: the vertex cost of each class."""
    return torch.tensor(COSTS, dtype=torch.float32)


def costs_of(classes: np.ndarray) -> torch.Tensor:
    """(...) float32: the vertex cost of each terrain class of ``classes`` (...)."""
    return cost_table()[torch.as_tensor(np.asarray(classes, dtype=np.int64))]


def label(classes: np.ndarray, batch: int = 2048) -> np.ndarray:
    """(E, N, N) bool: the optimal path of each map of ``classes`` (E, N, N)."""
    out = [
        shortest_paths(costs_of(classes[i : i + batch]))[0] for i in range(0, len(classes), batch)
    ]
    return torch.cat(out).numpy() if out else np.zeros(classes.shape, dtype=bool)


def make_splits(
    size: int, seed: int = 0, counts: tuple[int, int, int] = SPLIT_SIZES
) -> tuple[Maps, Maps, Maps]:
    """Train, validation and test maps of ``size`` x ``size`` cells, from ``seed``."""
    if size < 2:
        raise DataError(f"a map needs at least 2 x 2 cells (a start and a goal), got size {size}")
    out = []
    for part, count in enumerate(counts):
        part_seed = [seed, size, part]
        classes = class_maps(count, size, np.random.SeedSequence(part_seed).generate_state(1)[0])
        seeds = np.random.default_rng(part_seed).integers(2**62, size=count)
        out.append(Maps(classes, label(classes), seeds))
    return tuple(out)


def cached_splits(
    path: str | Path, size: int, seed: int = 0, counts: tuple[int, int, int] = SPLIT_SIZES
) -> tuple[Maps, Maps, Maps]:
    """:func:`make_splits`, read from ``path`` when it exists (checked to hold these options'
    maps), else made and written there."""
    path = Path(path)
    made = {"size": size, "seed": seed, "counts": list(counts)}
    if path.exists():
        try:
            with np.load(path) as stored:
                meta = {"size": int(stored["size"]), "seed": int(stored["seed"])}
                meta["counts"] = [int(c) for c in stored["counts"]]
                parts = [
                    Maps(stored[f"classes{i}"], stored[f"paths{i}"], stored[f"seeds{i}"])
                    for i in range(3)
                ]
        except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise DataError(
                f"{path} is not a shortest-path data cache ({e}); it was left as it is:"
                " give another --cache file, or remove this one to make it again"
            ) from None
        if meta != made:
            raise DataError(
                f"{path} holds maps made with {meta}, not {made}: give another --cache file"
            )
        return tuple(parts)
    splits = make_splits(size, seed, counts)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    arrays = {
        f"{k}{i}": getattr(m, k)
        for i, m in enumerate(splits)
        for k in ("classes", "paths", "seeds")
    }
    np.savez_compressed(tmp, size=size, seed=seed, counts=np.asarray(counts), **arrays)
    tmp.replace(path)
    return splits
