"""The torch form of :class:`nesy_ir.backends.LoweredCircuit` (generic or KLay): keys in, roots
out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from nesy_ir.backends import check_matrix, check_values
from nesy_ir.errors import NesyError


class LoweredCircuit(nn.Module):
    """A circuit as a module. ``forward({key: (B,) or scalar})`` -> ``{root name: (B,) or
    scalar}``; ``matrix(x (B, K))`` -> ``(B, R)``, keys in :attr:`keys` order, roots in
    :attr:`names` order. Booleans are 0.0 / 1.0. Inputs may be tensors or NumPy arrays.
    Subclasses define ``_evaluate(x (K, B)) -> (R, B)`` and hold a ``static`` buffer whose
    dtype and device are the module's."""

    keys: tuple[str, ...]
    names: tuple[str, ...]
    static: Tensor

    def __init__(self, keys: tuple[str, ...], names: tuple[str, ...]):
        super().__init__()
        self.keys, self.names = keys, names
        self._run = self._evaluate

    def _evaluate(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _traceable(self, x: Tensor) -> Tensor:
        """:meth:`_evaluate` in the ops ``torch.compile`` traces (the same, unless overridden)."""
        return self._evaluate(x)

    def enable_compile(self, **options: Any) -> LoweredCircuit:
        """Evaluate through ``torch.compile`` from now on (``options`` go to it)."""
        check_compiler(self.static.device)
        self._run = torch.compile(self._traceable, **options)
        return self

    def matrix(self, x: Any) -> Tensor:
        """(B, K) dynamic labels in :attr:`keys` order -> (B, R) root values (a transposed view
        where the native pass gives a large output: each root's examples contiguous)."""
        check_matrix(x, self.keys)
        static = self.static
        same = isinstance(x, Tensor) and x.dtype == static.dtype  # and device (is_cpu: quick)
        if not (same and (x.is_cpu and static.is_cpu or x.device == static.device)):
            x = torch.as_tensor(x, dtype=static.dtype, device=static.device)
        return self._examples(x)

    def _examples(self, x: Tensor) -> Tensor:
        """(B, K) dynamic labels -> (B, R) root values."""
        return self._run(x.t()).t()

    def forward(self, values: Mapping[str, Any] | None = None) -> dict[str, Tensor]:
        """``{dynamic key: tensor (B,) or scalar}`` -> ``{root name: (B,) or scalar}``."""
        given = check_values(self.keys, values)
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


def check_compiler(device: torch.device) -> None:
    """Raise a NesyError now if ``torch.compile`` cannot build programs for ``device``: on the
    CPU it builds them with a C++ compiler, and without one it would fail at the first call."""
    if device.type != "cpu":
        return
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()
    except Exception as e:  # noqa: BLE001 - whatever torch finds missing, said plainly
        raise NesyError(
            "compile=True on the CPU needs a C++ compiler (torch.compile builds its CPU programs"
            f" with g++ or clang++; set CXX to choose one): {e}. Install one, or lower the"
            " circuit without compile=True"
        ) from e
