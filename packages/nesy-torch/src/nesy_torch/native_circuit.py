"""A whole circuit through the native pass (:mod:`nesy_torch.native`): every root for every
example, the circuit laid out once as the cone of all its roots (:mod:`nesy_ir.cone`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nesy_ir.errors import NesyError
from nesy_ir.labels import Labelling
from nesy_ir.layerize import Layered
from nesy_ir.lowering import kernel

from . import native
from .cone import NARROWEST, ConeCircuit, _groups, slices
from .cone import group_width as cone_width
from .lowered import LoweredCircuit


class NativeCircuit(LoweredCircuit):
    """The roots of ``cone`` (a :class:`~nesy_torch.cone.ConeCircuit` whose kernels are all
    native) as a :class:`LoweredCircuit`: in C on the CPU in float32 and float64, through the
    cone's torch pass elsewhere (a GPU, another dtype, :attr:`native` set to False)."""

    def __init__(self, cone: ConeCircuit):
        super().__init__(cone.keys, cone.names)
        self.cone = cone
        self._whole = cone.index.cone(np.arange(len(cone.names))[None])
        roots = self._whole.roots[0]
        program = native.Program.of(self._whole, cone._codes)
        fused, row = program.fused(roots)
        self._program = fused.sunk(row[roots])  # the roots are its sinks, in turn
        # saved with a model: a checkpoint of another circuit does not load (see below)
        self.register_buffer("digest", _digest(program, roots))

    @property
    def static(self) -> Tensor:
        return self._modules["cone"]._buffers["static"]  # see _examples

    @property
    def native(self) -> bool:
        """Whether the circuit runs in C where it can (:attr:`ConeCircuit.native`)."""
        return self.cone.native

    @native.setter
    def native(self, value: bool) -> None:
        self.cone.native = value

    @property
    def fuse(self) -> bool:
        """Whether a gradient goes through one autograd node (in C or the cone's torch pass);
        False records every op (higher-order gradients): :attr:`ConeCircuit.fuse`."""
        return self.cone.fuse

    @fuse.setter
    def fuse(self, value: bool) -> None:
        self.cone.fuse = value

    def _load_from_state_dict(self, state, prefix, meta, strict, missing, unexpected, errors):
        saved = state.get(f"{prefix}digest")
        if saved is not None and not torch.equal(saved.to(self.digest), self.digest):
            errors.append(f"{prefix}digest: the saved state is another circuit's")
            return
        super()._load_from_state_dict(state, prefix, meta, strict, missing, unexpected, errors)

    def enable_compile(self, **options: Any) -> LoweredCircuit:
        """Refused: the native pass is one C call each way already, which ``torch.compile``
        cannot trace (lower with ``native=False, compile=True`` to compile the torch pass)."""
        raise NesyError(
            "a native circuit runs in one C call each way; torch.compile does not apply to it."
            " Lower the circuit with native=False, compile=True to compile the torch pass"
        )

    def _examples(self, x: Tensor) -> Tensor:
        """(B, K) dynamic labels -> (B, R) root values; a wide batch in groups of examples
        (:func:`group_width`)."""
        # not self.cone: Module.__getattr__ costs a microsecond a call
        cone, batch = self._modules["cone"], x.shape[0]
        if cone.fuse and cone.runs_natively(x):  # groups sized for the native program
            width = group_width(self._program, batch)
            spans = None if width >= batch else slices(batch, width)
            return native.run(self._program, *cone.native_labels(x), None, spans)
        parts = []
        for g in _groups(self._whole, x.t()):  # the cone's torch pass, sized by its own rows
            group = x[g]
            shape = (len(group), len(self.names))
            parts.append(cone._evaluate(group.t(), self._whole, shape))
        return torch.cat(parts) if len(parts) > 1 else parts[0]

    def _evaluate(self, x: Tensor) -> Tensor:
        """(K, B) dynamic labels -> (R, B) root values."""
        return self._examples(x.t()).t()


#: The most examples in a group of the native pass (see :func:`group_width`).
WIDEST = 256


def group_width(program: native.Program, batch: int) -> int:
    """How many of ``batch`` examples the native pass of ``program`` evaluates together: as
    many as :func:`~nesy_torch.cone.group_width` gives its rows (its roots are sinks, with
    no rows: :meth:`~nesy_torch.native.Program.sunk`), up to :data:`WIDEST`.

    Where the (batch, roots) output is larger than :data:`~nesy_torch.native.OUTPUT_VALUES`,
    it streams through main memory and a group is :data:`~nesy_torch.cone.NARROWEST` examples,
    the width the pass's loops are compiled for (and write past the caches): each root's run of
    the output (see :data:`~nesy_torch.native.ROW_OUTPUT_VALUES`) is then a cache line or two,
    and a gradient given example by example (as indexing or cross-entropy gives it) is read a
    few examples' rows at a time (measured before the stores past the caches, which only
    groups of 32 make: MNIST addition's every sum, forward + backward, us per sum, with the
    log-likelihood / with a gradient given example by example: N = 3 at batch 1024 4.5 / 2.0
    in groups of 32, 4.3 / 2.9 in groups of 256; N = 4 at batch 256 1.02 / 0.47 in groups of
    32, 1.3 / 0.65 in groups of 16, 1.05 to 1.42 / 0.54 to 0.69 in groups of 48 to 256;
    docs/benchmarks.md)."""
    if batch <= 1:  # one group, nothing to work out (half a microsecond a call)
        return batch
    if program.sinks * batch > native.OUTPUT_VALUES:
        return min(batch, NARROWEST)
    return min(cone_width(program.rows, batch), WIDEST)


def _digest(program: native.Program, roots: np.ndarray) -> Tensor:
    """A fingerprint of the circuit as the native pass runs it (4 int64s of its SHA-256)."""
    arrays = (np.int64(program.leaves), program.ops, program.offsets, program.children, roots)
    sha = hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays))
    return torch.as_tensor(np.frombuffer(sha.digest(), dtype=np.int64).copy())


def native_circuit(
    layered: Layered,
    labels: Labelling | Mapping | None,
    dynamic: Iterable[str],
    dtype: torch.dtype,
    device: torch.device | str | None,
    env: Mapping[str, Any] | None,
    required: bool | None,
) -> NativeCircuit | None:
    """``layered`` as a :class:`NativeCircuit`, or None where the native pass does not apply
    and ``required`` is not True (then a NesyError says why)."""
    problem = why_not(layered, dtype, torch.device(device or "cpu"))
    if problem is None:
        return NativeCircuit(
            ConeCircuit(layered, labels, dynamic, dtype=dtype, device=device, env=env)
        )
    if required:
        raise NesyError(f"native=True does not apply: {problem}")
    return None


def why_not(layered: Layered, dtype: torch.dtype, device: torch.device) -> str | None:
    """Why the native pass cannot evaluate ``layered`` in ``dtype`` on ``device`` (None: it
    can)."""
    if device.type != "cpu":
        return f"it runs on the CPU, not on {device}"
    if dtype not in native.PREFIX:
        return f"it runs in float32 or float64, not in {dtype}"
    for block in layered.blocks():
        try:
            name = kernel(block.op, block.structure)
        except NesyError as e:
            return str(e)
        if native.native_code(name, block.unary) is None:
            return (
                f"its {block.op} nodes in {block.structure!r} need the kernel {name!r}, which"
                f" it has not (it has {', '.join(native.CODES)}, as built in)"
            )
    if native.library() is None:
        return (
            "it is built with a C compiler (cc, gcc or clang; set CC to choose one), which"
            f" failed: {native.build_error()}"
        )
    return None
