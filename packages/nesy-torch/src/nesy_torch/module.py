"""A layered circuit as a ``torch.nn.Module``: gather + reduce per block, one tensor per layer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nesy_ir.circuit import Circuit
from nesy_ir.errors import NesyError
from nesy_ir.labels import Labelling
from nesy_ir.layerize import Layered, layerize
from nesy_ir.lowering import check_structures, plan_leaves

from .kernels import REDUCTIONS, UNARY
from .layout import DENSE_SLACK, Step, build_layout, check_kernels
from .lowered import LoweredCircuit


class CircuitModule(LoweredCircuit):
    """The generic lowering: per layer, one gather + reduction per block and one gather carrying
    the values later layers read (see :mod:`nesy_torch.layout`). Index arrays are buffers
    (they follow ``.to(device)``); the static leaf values are a buffer in ``dtype``."""

    def __init__(
        self,
        layered: Layered,
        labels: Labelling | Mapping | None = None,
        dynamic: Iterable[str] = (),
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        dense_slack: float = DENSE_SLACK,
        env: Mapping[str, Any] | None = None,
    ):
        check_structures(layered)
        check_kernels(layered)
        plan = plan_leaves(layered, labels, dynamic, env)
        layout = build_layout(layered, plan, dense_slack)
        super().__init__(plan.keys, layered.names)
        self.layout = layout
        self.register_buffer("static", torch.as_tensor(layout.static, dtype=dtype)[:, None])
        self.register_buffer("roots", _long(layout.roots))
        self._dynamic = []
        for i, (name, sources) in enumerate(layout.dynamic):
            self.register_buffer(f"dyn{i}", _long(sources))
            self._dynamic.append((UNARY[name], f"dyn{i}"))
        # the labels as they come, when they are the whole leaf frontier in order
        self._labels_are_leaves = len(layout.static) == 0 and [
            (name, list(sources)) for name, sources in layout.dynamic
        ] == [("identity", list(range(len(plan.keys))))]
        self._layers = [self._register_layer(k, layer) for k, layer in enumerate(layout.layers)]
        last = layout.layers[-1] if layout.layers else ()
        self._all_roots = list(layout.roots) == list(range(sum(s.size for s in last)))
        self.to(device)

    def _register_layer(self, k: int, layer: tuple[Step, ...]) -> list[tuple] | None:
        """One index buffer for the whole layer (a single gather), and per step its kernel,
        its slice of the gathered rows and, for scatter steps, its segments buffer; for a
        'matmul' layer its matrix buffer, and None."""
        if layer[0].kind == "matmul":
            self.register_buffer(f"l{k}", torch.as_tensor(layer[0].index, dtype=self.static.dtype))
            return None
        self.register_buffer(f"l{k}", _long(np.concatenate([s.index.reshape(-1) for s in layer])))
        steps, start = [], 0
        for j, step in enumerate(layer):
            rows = step.index.size
            if step.kind == "scatter":
                self.register_buffer(f"l{k}s{j}", _long(step.segments))
                fn, extra = REDUCTIONS[step.kernel].scatter, (f"l{k}s{j}", step.size)
            elif step.kind == "dense":
                fn, extra = REDUCTIONS[step.kernel].dense, step.index.shape
            else:
                fn, extra = UNARY[step.kernel], None
            steps.append((step.kind, fn, start, rows, extra))
            start += rows
        return steps

    def _evaluate(self, x: Tensor) -> Tensor:
        """(K, B) dynamic labels -> (R, B) root values."""
        batch = x.shape[1]
        if self._labels_are_leaves:
            h = x
        else:
            parts = [fn(x.index_select(0, getattr(self, name))) for fn, name in self._dynamic]
            parts.append(self.static.expand(-1, batch))
            h = torch.cat(parts) if len(parts) > 1 else parts[0]
        for k, layer in enumerate(self._layers):
            if layer is None:
                h = getattr(self, f"l{k}") @ h
                continue
            gathered = h.index_select(0, getattr(self, f"l{k}"))
            outs = []
            for kind, fn, start, rows, extra in layer:
                if rows < len(gathered):
                    rows = gathered.narrow(0, start, rows)
                else:
                    rows = gathered
                if kind == "dense":
                    outs.append(fn(rows.view(*extra, batch)))
                elif kind == "scatter":
                    outs.append(fn(rows, getattr(self, extra[0]), extra[1]))
                else:
                    outs.append(fn(rows))
            h = torch.cat(outs) if len(outs) > 1 else outs[0]
        return h if self._all_roots else h.index_select(0, self.roots)


def _long(a: np.ndarray) -> Tensor:
    return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.long)


def torch_dtype(dtype: torch.dtype | str | None) -> torch.dtype:
    """A torch dtype from a name (``"float64"``) or a dtype; None is float32."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, str):
        found = getattr(torch, dtype, None)
        if not isinstance(found, torch.dtype):
            raise NesyError(f"{dtype!r} is not a torch dtype (e.g. 'float32', 'float64')")
        return found
    return dtype


def lower(
    circuit: Circuit | Layered,
    labels: Labelling | Mapping | None = None,
    dynamic: Iterable[str] = (),
    *,
    env: Mapping[str, Any] | None = None,
    dtype: torch.dtype | str | None = None,
    device: torch.device | str | None = None,
    compile: bool = False,
    klay: bool | None = None,
    dense_slack: float = DENSE_SLACK,
) -> LoweredCircuit:
    """``circuit`` as a torch module mapping the ``dynamic`` labels to the roots' values (the
    interface of :class:`nesy_ir.backends.LoweredCircuit`).

    ``labels`` label every other atom (scalars); ``env`` binds free variables of atoms; ``dtype``
    defaults to float32. ``klay``: None uses the KLay fast path where the circuit is smooth and
    KLay applies (see :mod:`nesy_torch.klay_path`), True requires it (smoothing the circuit
    when that keeps its value), False never uses it. ``compile=True`` evaluates through
    ``torch.compile``.
    """
    dtype = torch_dtype(dtype)
    layered = circuit if isinstance(circuit, Layered) else layerize(circuit)
    module = None
    if klay is not False:
        from .klay_path import klay_module

        source = circuit if isinstance(circuit, Circuit) else None
        module = klay_module(layered, labels, dynamic, dtype, device, env, klay, source)
    if module is None:
        module = CircuitModule(
            layered, labels, dynamic, dtype=dtype, device=device, dense_slack=dense_slack, env=env
        )
    return module.enable_compile() if compile else module
