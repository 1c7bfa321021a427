"""The interface every lowered circuit shares (generic or KLay): keys in, roots out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from nesy_ir.errors import NesyError


class Lowered(nn.Module):
    """A circuit as a module. ``forward({key: (B,) or scalar})`` -> ``{root name: (B,) or
    scalar}``; ``forward_matrix(x (B, K))`` -> ``(B, R)``, keys in :attr:`keys` order, roots in
    :attr:`names` order. Booleans are 0.0 / 1.0. Subclasses define ``_evaluate(x (K, B)) ->
    (R, B)`` and hold a ``static`` buffer whose dtype and device are the module's."""

    keys: tuple[str, ...]
    names: tuple[str, ...]
    static: Tensor

    def __init__(self, keys: tuple[str, ...], names: tuple[str, ...]):
        super().__init__()
        self.keys, self.names = keys, names
        self._run = self._evaluate

    def _evaluate(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def enable_compile(self, **options: Any) -> Lowered:
        """Evaluate through ``torch.compile`` from now on (``options`` go to it)."""
        self._run = torch.compile(self._evaluate, **options)
        return self

    def forward_matrix(self, x: Tensor) -> Tensor:
        """(B, K) dynamic labels in :attr:`keys` order -> (B, R) root values."""
        if x.dim() != 2 or x.shape[1] != len(self.keys):
            raise NesyError(
                f"forward_matrix expects a (B, {len(self.keys)}) tensor (keys {self.keys}),"
                f" got shape {tuple(x.shape)}"
            )
        return self._run(x.to(self.static.dtype).t()).t()

    def forward(self, values: Mapping[str, Any] | None = None) -> dict[str, Tensor]:
        """``{dynamic key: tensor (B,) or scalar}`` -> ``{root name: (B,) or scalar}``."""
        given = {"".join(k.split()): v for k, v in (values or {}).items()}
        missing = [k for k in self.keys if k not in given]
        if missing:
            raise NesyError(f"no value for the dynamic labels {missing} (expected {self.keys})")
        static = self.static
        columns = [torch.as_tensor(given[k], dtype=static.dtype) for k in self.keys]
        sizes = {c.shape[0] for c in columns if c.dim() == 1}
        if len(sizes) > 1 or any(c.dim() > 1 for c in columns):
            shapes = {k: tuple(c.shape) for k, c in zip(self.keys, columns, strict=True)}
            raise NesyError(f"dynamic labels must be scalars or share one batch size: {shapes}")
        batch = sizes.pop() if sizes else None
        width = batch or 1
        if columns:
            x = torch.stack([c.to(static.device).expand(width) for c in columns])
        else:
            x = static.new_zeros((0, width))
        out = self._run(x)
        return {n: out[i] if batch is not None else out[i, 0] for i, n in enumerate(self.names)}
