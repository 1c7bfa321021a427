"""Lowering of a layered circuit to a pure JAX function: gather + reduce per block.

All values live in one (nodes, B) buffer, node-major so that a block's children are a row
gather. The leaves come first, reordered as [static constants, dynamic labels grouped by unary
kernel] so that they are one concatenation (no scatter); then every block appends its outputs.
The Python loop over blocks runs once, at tracing time; the traced function has one gather and
one reduction per block and nothing per node or per batch element.

Float64 needs ``jax.config.update("jax_enable_x64", True)`` (or ``with jax.enable_x64():``);
otherwise JAX computes in float32.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nesy_ir.backends import check_matrix, check_values
from nesy_ir.circuit import Circuit
from nesy_ir.errors import NesyError
from nesy_ir.labels import Labelling
from nesy_ir.layerize import Block, Layered, layerize
from nesy_ir.lowering import LeafPlan, check_structures, kernel, plan_leaves
from nesy_ir.registry import get_algebra

from .kernels import Array, reduction, unary

#: A block is computed densely (padded to its widest node) unless that reads more than this many
#: times as many values as the segment form does, and the kernel has a segment form.
DENSE_PADDING = 2.0


@dataclass(frozen=True)
class Step:
    """One block: gather ``buf[index]`` (index (size,), (E,) or (size, width)), then ``reduce``
    the gathered values to the block's (size, B) outputs at ``first``."""

    first: int
    size: int
    index: np.ndarray
    reduce: Callable[[Array], Array]


def _dense_step(block: Block, name: str, remap: np.ndarray) -> Step:
    red = reduction(name, f"{block.op} in {block.structure}")
    index, mask = block.dense()
    pad = mask[..., None]
    fold = red.dense if mask.all() else (lambda v: red.dense(jnp.where(pad, v, red.neutral)))
    return Step(block.first, block.size, remap[index].astype(np.int32), fold)


def _segment_step(block: Block, name: str, remap: np.ndarray) -> Step:
    red = reduction(name, f"{block.op} in {block.structure}")
    ids = block.segments.astype(np.int32)
    return Step(
        block.first,
        block.size,
        remap[block.inputs].astype(np.int32),
        lambda v: red.segment(v, ids, block.size),
    )


def _unary_step(block: Block, name: str, remap: np.ndarray) -> Step:
    fn = unary(name, f"{block.op} in {block.structure}")
    return Step(block.first, block.size, remap[block.inputs].astype(np.int32), fn)


def _step(block: Block, remap: np.ndarray) -> Step:
    """The computation of one block, dense or segment-wise (see :data:`DENSE_PADDING`)."""
    name = kernel(block.op, block.structure)
    if block.unary:
        return _unary_step(block, name, remap)
    red = reduction(name, f"{block.op} in {block.structure}")
    width = int(np.bincount(block.segments, minlength=block.size).max(initial=0))
    if red.segment is not None and block.size * width > DENSE_PADDING * len(block.inputs):
        return _segment_step(block, name, remap)
    return _dense_step(block, name, remap)


def _forward(steps: list[Step], num_nodes: int, leaves: Array) -> Array:
    """The (num_nodes, B) buffer: the leaves, then each block written in place."""
    buf = jnp.zeros((num_nodes, leaves.shape[1]), leaves.dtype)
    buf = jax.lax.dynamic_update_slice_in_dim(buf, leaves, 0, axis=0)
    for step in steps:
        out = step.reduce(buf[step.index])
        buf = jax.lax.dynamic_update_slice_in_dim(buf, out, step.first, axis=0)
    return buf


def _layers(steps: list[Step], num_nodes: int, roots: np.ndarray) -> Callable[[Array], Array]:
    """(L, B) leaves -> (R, B) roots, with a reverse pass that accumulates the cotangents of
    all nodes in one buffer, in place (autodiff of the gathers would build a zero buffer of
    all nodes so far per block)."""

    @jax.custom_vjp
    def layers(leaves: Array) -> Array:
        return _forward(steps, num_nodes, leaves)[roots]

    def forward(leaves: Array):
        buf = _forward(steps, num_nodes, leaves)
        return buf[roots], buf

    def backward(buf: Array, cotangent: Array):
        # Opaque zeros: with a constant cotangent (the gradient of a sum) the scatter below
        # would be all constants, and XLA would fold it at compile time, for seconds.
        ct = jax.lax.optimization_barrier(jnp.zeros_like(buf)).at[roots].add(cotangent)
        for step in reversed(steps):
            _, pullback = jax.vjp(step.reduce, buf[step.index])
            out_ct = jax.lax.dynamic_slice_in_dim(ct, step.first, step.size, axis=0)
            ct = ct.at[step.index].add(pullback(out_ct)[0])
        return (ct[: num_nodes - sum(s.size for s in steps)],)

    layers.defvjp(forward, backward)
    return layers


@dataclass(frozen=True)
class _Leaves:
    """The leaves in buffer order: static values, then dynamic groups (kernel, key indices)."""

    static: np.ndarray
    groups: tuple[tuple[Callable[[Array], Array], np.ndarray], ...]
    remap: np.ndarray  # old global id -> buffer position (identity above the leaves)


def _leaves(layered: Layered, plan: LeafPlan) -> _Leaves:
    n_leaves = len(layered.leaves)
    dynamic = np.zeros(n_leaves, dtype=bool)
    dynamic[plan.dynamic_leaf] = True
    static_ids = np.flatnonzero(~dynamic)
    order, groups = [static_ids], []
    for name, (leaf, source) in plan.kernel_groups().items():
        order.append(leaf)
        fn = unary(name, f"the dynamic labels {list(plan.keys)}")
        groups.append((fn, source.astype(np.int32)))
    remap = np.arange(layered.num_nodes, dtype=np.int64)
    remap[np.concatenate(order).astype(np.int64)] = np.arange(n_leaves)
    return _Leaves(plan.static[static_ids], tuple(groups), remap)


class LoweredCircuit:
    """A circuit as a JAX function of its dynamic labels (the interface of
    :class:`nesy_ir.backends.LoweredCircuit`).

    Call it on ``{key: array}`` (every key of :attr:`keys`; scalars or arrays of one batch shape)
    to get ``{root name: array}``; :meth:`matrix` is the same as a pure function of a (B, K)
    matrix whose columns follow :attr:`keys`, for use inside ``jax.jit`` / ``grad`` / ``vmap``.
    Boolean roots come back as floats 0.0 / 1.0.
    """

    def __init__(
        self,
        layered: Layered,
        plan: LeafPlan,
        *,
        dtype: Any = None,
        device: Any = None,
        jit: bool = True,
        check: bool = True,
    ):
        self.layered = layered
        self.device = jax.devices(device)[0] if isinstance(device, str) else device
        self.keys: tuple[str, ...] = plan.keys
        self.names: tuple[str, ...] = layered.names
        self.dtype = jnp.dtype(dtype) if dtype is not None else jnp.result_type(float)
        if self.dtype.itemsize == 8 and not jax.config.read("jax_enable_x64"):
            raise NesyError(
                f"{self.dtype} on JAX needs 64-bit mode: jax.config.update('jax_enable_x64', True)"
                " or lower inside `with jax.enable_x64(True):`"
            )
        self.check = check
        leaves = _leaves(layered, plan)
        self._static = np.asarray(leaves.static, dtype=self.dtype)[:, None]
        self._groups = leaves.groups
        steps = [_step(b, leaves.remap) for b in layered.blocks()]
        roots = leaves.remap[layered.roots].astype(np.int32)
        self._layers = _layers(steps, layered.num_nodes, roots)
        self._key_carriers = _key_carriers(layered, plan)
        self.matrix: Callable[[Array], Array] = jax.jit(self._matrix) if jit else self._matrix
        self._call = jax.jit(self._apply_values) if jit else self._apply_values

    def _matrix(self, x: Array) -> Array:
        """(B, K) dynamic labels in :attr:`keys` order -> (B, R) root values."""
        check_matrix(x, self.keys)
        x = jnp.asarray(x, self.dtype)
        if self.device is not None:
            x = jax.device_put(x, self.device)
        columns = x.T
        batch = x.shape[0]
        parts = [jnp.broadcast_to(jnp.asarray(self._static), (len(self._static), batch))]
        parts += [fn(columns[source]) for fn, source in self._groups]
        return self._layers(jnp.concatenate(parts, axis=0)).T

    def _apply_values(self, values: tuple[Array, ...]) -> dict[str, Array]:
        arrays = [jnp.asarray(v, self.dtype) for v in values]
        shape = jnp.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
        columns = [jnp.broadcast_to(a, shape).reshape(-1) for a in arrays]
        size = int(np.prod(shape, dtype=int))
        x = jnp.stack(columns, axis=-1) if columns else jnp.zeros((size, 0), self.dtype)
        out = self._matrix(x)
        return {n: out[:, i].reshape(shape) for i, n in enumerate(self.names)}

    def __call__(self, values: Mapping[str, Any] | None = None) -> dict[str, Array]:
        values = check_values(self.keys, values)
        if self.check:
            for key in self.keys:
                _check(key, values[key], self._key_carriers[key])
        return self._call(tuple(values[k] for k in self.keys))


def _key_carriers(layered: Layered, plan: LeafPlan) -> dict[str, set[str]]:
    """The structures of the leaves each dynamic key labels."""
    out: dict[str, set[str]] = {k: set() for k in plan.keys}
    for leaf, source in zip(plan.dynamic_leaf.tolist(), plan.dynamic_source.tolist(), strict=True):
        out[plan.keys[source]].add(layered.leaves[leaf].structure)
    return out


def _check(key: str, value: Any, structures: set[str]) -> None:
    """A clear error for a concrete label outside its carrier (tracers are not checked)."""
    if isinstance(value, jax.core.Tracer):
        return
    array = np.asarray(value)
    for structure in sorted(structures):
        carrier = get_algebra(structure).carrier
        problem = carrier.violation(array.astype(float)) if array.dtype != object else "an object"
        if problem:
            raise NesyError(f"label of {key}@{structure} is {problem}")


def lower(
    circuit: Circuit | Layered,
    labels: Labelling | Mapping | None = None,
    dynamic: Iterable[str] = (),
    *,
    env: Mapping[str, Any] | None = None,
    dtype: Any = None,
    device: Any = None,
    jit: bool = True,
    check: bool = True,
) -> LoweredCircuit:
    """Lower ``circuit`` to JAX; ``dynamic`` keys are labelled at call time, ``labels`` label
    every other atom now (scalars), ``env`` binds free variables of atoms. ``dtype`` (a name or
    a dtype) defaults to JAX's float (float32 unless x64 is on); ``device`` (a JAX device or a
    platform name, ``"cpu"``, ``"gpu"``) is where it computes; ``check`` validates concrete
    labels against their carrier at each call."""
    layered = circuit if isinstance(circuit, Layered) else layerize(circuit)
    check_structures(layered)
    plan = plan_leaves(layered, labels, dynamic, env)
    return LoweredCircuit(layered, plan, dtype=dtype, device=device, jit=jit, check=check)
