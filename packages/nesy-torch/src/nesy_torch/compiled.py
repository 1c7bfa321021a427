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

from .fused import FusedLayer, pass_backward, pass_forward, run_layers, zero_products


def compilable(layers: Sequence[FusedLayer]) -> bool:
    """Whether every step's gradient has a formula here: a step that autograd differentiates
    (user kernels, log, log1mexp, the Lukasiewicz and noisy-or kernels) would split the
    program."""
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
            frontiers, kept = pass_forward(h, layers, 0)  # the backward gathers again, fused
            return frontiers, kept, zero_products(layers, frontiers)

        def backward(frontiers: list[Tensor], grad: Tensor) -> Tensor:
            return pass_backward(frontiers, [None] * len(layers), layers, roots, grad, nonzero=True)

        def op_by_op(h: Tensor) -> Tensor:
            return run_layers(layers, roots, h)

        self.forward = compile_own(forward, options)
        self.backward = compile_own(backward, options)
        self.layers = compile_own(op_by_op, options)


def compile_own(fn: FunctionType, options: dict[str, Any]) -> Callable:
    """``torch.compile(fn)`` under a code object of ``fn``'s own: torch.compile keeps its
    programs per code object, at most ``torch._dynamo.config.recompile_limit`` (8) of them, so
    that every circuit's closures of one function would share (and soon exhaust) them. Each
    call checks only the guards on ``fn``'s arguments and torch's global state (grad mode and
    the like), not those on its closure, the circuit's layers, which stay the same for its
    life (some 800 guards, 29 to 47 us a call), unless ``options`` name a ``mode``."""
    code = fn.__code__.replace()  # equal, not the same object
    own = FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    arguments = code.co_varnames[: code.co_argcount]

    def guards(entries) -> list[bool]:
        return [not e.name or _of(e.name, arguments) for e in entries]

    if "mode" not in options:  # torch.compile takes a mode or options, not both
        given = options.get("options") or {}
        options = {**options, "options": {"guard_filter_fn": guards, **given}}
    return torch.compile(own, **options)


def _of(name: str, arguments: tuple[str, ...]) -> bool:
    """Whether a guard's ``name`` is one of ``arguments`` or part of one."""
    return any(name == a or name.startswith((f"{a}[", f"{a}.")) for a in arguments)
