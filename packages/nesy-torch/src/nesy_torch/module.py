"""A layered circuit as a ``torch.nn.Module``: gather + reduce per block, one tensor per layer."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nesy_ir.circuit import Circuit
from nesy_ir.errors import NesyError
from nesy_ir.labels import Labelling
from nesy_ir.layerize import Layered, layerize
from nesy_ir.lowering import check_structures, plan_leaves

from .compiled import CompiledPass, compilable
from .fused import FusedLayer, FusedPass, FusedStep, columns, joined, run_layers, tiles
from .kernels import REDUCTIONS, UNARY, Reduction
from .layout import DENSE_SLACK, Step, build_layout, check_kernels
from .lowered import LoweredCircuit, check_compiler

#: Fewest gather layers for which the fused pass pays (below, its fixed cost, about that of a
#: few autograd nodes, is more than it saves: MNIST addition N=1, measured).
FUSE_MIN_LAYERS = 2


class CircuitModule(LoweredCircuit):
    """The generic lowering: per layer, one gather + reduction per block and one gather carrying
    the values later layers read (see :mod:`nesy_torch.layout`); with a gradient, the layers as
    one autograd node (:attr:`fuse`). Index arrays are buffers (they follow ``.to(device)``); the
    static leaf values are a buffer in ``dtype``."""

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
        for k, layer in enumerate(layout.layers):
            self._register_layer(k, layer)
        last = layout.layers[-1] if layout.layers else ()
        self._all_roots = list(layout.roots) == list(range(sum(s.size for s in last)))
        self._compile_options: dict[str, Any] | None = None  # set by enable_compile
        self.to(device)  # binds the layers to the buffers (see _apply)
        #: Whether a gradient goes through the fused pass (:mod:`nesy_torch.fused`), whose
        #: backward is differentiable once; False records every op (higher-order gradients).
        self.fuse = sum(layer.matrix is None for layer in self._layers) >= FUSE_MIN_LAYERS

    def _register_layer(self, k: int, layer: tuple[Step, ...]) -> None:
        """The layer's buffers: its gather index (one gather for the whole layer), the output
        of each gathered row and the segments of its scatter steps; for a 'matmul' layer, its
        matrix."""
        if layer[0].kind == "matmul":
            self.register_buffer(f"l{k}", torch.as_tensor(layer[0].index, dtype=self.static.dtype))
            return
        self.register_buffer(f"l{k}", _long(np.concatenate([s.index.reshape(-1) for s in layer])))
        parents, offset = [], 0
        for step in layer:
            if step.kind == "scatter":
                parents.append(step.segments + offset)
            else:
                width = step.index.size // max(step.size, 1)
                parents.append(np.repeat(np.arange(offset, offset + step.size), width))
            offset += step.size
        self.register_buffer(f"l{k}p", _long(np.concatenate(parents)))
        for j, step in enumerate(layer):
            if step.kind == "scatter":
                self.register_buffer(f"l{k}s{j}", _long(step.segments))

    def _bind(self, fold: bool = False) -> list[FusedLayer]:
        """The layers with their buffers as they are now (after any ``.to()``); ``fold``: dense
        sums and products of at most :data:`FOLD_WIDTH` children as folds, for a compiled
        program."""
        layers = []
        for k, layer in enumerate(self.layout.layers):
            index = getattr(self, f"l{k}")
            if layer[0].kind == "matmul":
                layers.append(FusedLayer(None, matrix=index))
                continue
            steps, start = [], 0
            for j, step in enumerate(layer):
                rows, size = step.index.size, step.size
                if step.kind == "scatter":
                    fn, segments = REDUCTIONS[step.kernel].scatter, getattr(self, f"l{k}s{j}")
                    steps.append(
                        FusedStep("scatter", step.kernel, fn, start, rows, size, None, segments)
                    )
                elif step.kind == "dense":
                    fn = _dense(REDUCTIONS[step.kernel], step.index.shape[1], fold)
                    steps.append(
                        FusedStep("dense", step.kernel, fn, start, rows, size, step.index.shape)
                    )
                else:
                    steps.append(
                        FusedStep(step.kind, step.kernel, UNARY[step.kernel], start, rows, size)
                    )
                start += rows
            layers.append(FusedLayer(index, getattr(self, f"l{k}p"), tuple(steps)))
        return layers

    def _apply(self, fn, recurse: bool = True):
        """``nn.Module._apply`` (``.to()``, ``.double()``...), then the layers rebound."""
        super()._apply(fn, recurse)
        self._layers = self._bind()
        self._roots = None if self._all_roots else self.roots
        self._compiled()
        return self

    def enable_compile(self, **options: Any) -> LoweredCircuit:
        """Evaluate through ``torch.compile`` from now on (``options`` go to it; by default
        ``dynamic=False``: one program per batch width, as fast as the width allows, each new
        width compiled in seconds): the fused pass's forward and backward each one compiled
        program, where every step's gradient has a formula here
        (:class:`~nesy_torch.compiled.CompiledPass`); the layers op by op otherwise."""
        options = {"dynamic": False, **options}
        if not compilable(self._layers):
            return super().enable_compile(**options)
        check_compiler(self.static.device)
        self._compile_options = options
        self._compiled()
        return self

    def _compiled(self) -> None:
        """The compiled pass of the buffers as they are now, once :meth:`enable_compile` was
        called (its dense sums and products folded: :attr:`Reduction.folded`)."""
        options = self._compile_options
        self._pass = None
        if options is not None:
            self._pass = CompiledPass(self._bind(fold=True), self._roots, options)

    def _leaf_frontier(self, x: Tensor) -> Tensor:
        """(K, B) dynamic labels -> the leaf frontier (its unary kernels recorded by autograd)."""
        if self._labels_are_leaves:
            return x
        parts = [fn(x.index_select(0, getattr(self, name))) for fn, name in self._dynamic]
        parts.append(self.static.expand(-1, x.shape[1]))
        return torch.cat(parts) if len(parts) > 1 else parts[0]

    def _evaluate(self, x: Tensor) -> Tensor:
        """(K, B) dynamic labels -> (R, B) root values; one autograd node for all the layers
        (:class:`~nesy_torch.fused.FusedPass`) when a gradient is wanted; a wide batch in tiles
        of columns (:func:`~nesy_torch.fused.tiles`)."""
        h = self._leaf_frontier(x)
        if self.fuse and h.requires_grad and torch.is_grad_enabled():
            return FusedPass.apply(h, self._layers, self._roots, self._pass)
        spans = tiles(self._layers, h)
        if self._pass is not None:
            return joined([self._pass.layers(columns(h, s)) for s in spans])
        return joined([run_layers(self._layers, self._roots, columns(h, s)) for s in spans])

    def _traceable(self, x: Tensor) -> Tensor:
        """:meth:`_evaluate` op by op, every op recorded by autograd: what ``torch.compile``
        traces, and the reference the fused backward is tested against."""
        return run_layers(self._layers, self._roots, self._leaf_frontier(x))


#: Widest dense step a compiled program folds (:attr:`Reduction.folded`): each child is one
#: more operation to trace and compile.
FOLD_WIDTH = 16


def _dense(reduction: Reduction, width: int, fold: bool) -> Callable[[Tensor], Tensor]:
    if fold and reduction.folded is not None and width <= FOLD_WIDTH:
        return reduction.folded
    return reduction.dense


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
    native: bool | None = None,
    dense_slack: float = DENSE_SLACK,
) -> LoweredCircuit:
    """``circuit`` as a torch module mapping the ``dynamic`` labels to the roots' values (the
    interface of :class:`nesy_ir.backends.LoweredCircuit`).

    ``labels`` label every other atom (scalars); ``env`` binds free variables of atoms; ``dtype``
    defaults to float32. ``native``: None runs the whole pass in C (:mod:`nesy_torch.native`:
    one call forwards, one backwards) where it applies: every kernel of the circuit built in
    and native, the CPU, float32 or float64, a C compiler, no ``compile``; True requires it
    (a NesyError says why it does not apply); False never uses it. ``klay``: None uses the
    KLay fast path where the circuit is smooth, KLay applies and the native pass does not (see
    :mod:`nesy_torch.klay_path`), True requires it (smoothing the circuit when that keeps its
    value), False never uses it. ``compile=True`` evaluates through ``torch.compile``.
    ``dense_slack`` shapes the generic module's layout (:mod:`nesy_torch.layout`).
    """
    if native and (compile or klay):
        other = "compile=True" if compile else "klay=True"
        raise NesyError(f"native=True and {other} exclude each other: choose one")
    dtype = torch_dtype(dtype)
    layered = circuit if isinstance(circuit, Layered) else layerize(circuit)
    if native or (native is None and not compile and klay is not True):
        from .native_circuit import native_circuit

        module = native_circuit(layered, labels, dynamic, dtype, device, env, required=native)
        if module is not None:
            return module
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
