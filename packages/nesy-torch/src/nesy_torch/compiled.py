"""The fused pass through ``torch.compile``: its forward and its backward each one compiled
program, in which the compiler fuses a layer's gather, reduction and scatter into loops over
the frontier, without writing every gathered value out as eager kernels do (measured in
docs/benchmarks.md, "Compiled")."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import FunctionType
from typing import Any

import torch
from torch import Tensor

from .fused import FusedLayer, _backward, _forward, run_layers, zero_products


def compilable(layers: Sequence[FusedLayer]) -> bool:
    """Whether every step's gradient has a formula here: a step that autograd differentiates
    (user kernels, log, the Lukasiewicz and noisy-or kernels) would split the program."""
    return all(step.rule is not None for layer in layers for step in layer.steps)


class CompiledPass:
    """Compiled programs of ``layers`` then the rows ``roots``: the fused pass's forward (every
    frontier, and whether some product the backward divides by is 0) and backward (the leaf
    frontier's gradient from the roots'), as :class:`~nesy_torch.fused.FusedPass` runs them
    (where a forward found a zero product, it runs the exact eager backward instead), and
    ``layers(h)``, the roots op by op (without a gradient, or recorded by autograd);
    ``options`` go to ``torch.compile``."""

    def __init__(self, layers: Sequence[FusedLayer], roots: Tensor | None, options: dict[str, Any]):
        def forward(h: Tensor):
            frontiers, kept = _forward(h, layers, 0)  # the backward gathers again, fused
            return frontiers, kept, zero_products(layers, frontiers)

        def backward(frontiers: list[Tensor], grad: Tensor) -> Tensor:
            return _backward(frontiers, [None] * len(layers), layers, roots, grad, nonzero=True)

        def op_by_op(h: Tensor) -> Tensor:
            return run_layers(layers, roots, h)

        self.forward = compile_own(forward, options)
        self.backward = compile_own(backward, options)
        self.layers = compile_own(op_by_op, options)


def compile_own(fn: FunctionType, options: dict[str, Any]) -> Callable:
    """``torch.compile(fn)`` under a code object of ``fn``'s own: torch.compile keeps its
    programs per code object, at most ``torch._dynamo.config.recompile_limit`` (8) of them, so
    that every circuit's closures of one function would share (and soon exhaust) them."""
    code = fn.__code__.replace()  # equal, not the same object
    own = FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    return torch.compile(own, **options)
