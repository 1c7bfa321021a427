"""A layered circuit's whole pass in C on the CPU: one call forwards and one backwards.

The eager passes (:mod:`nesy_torch.fused`, :mod:`nesy_torch.cone`) call a handful of torch
kernels per layer; at small batch each call's fixed cost, not the arithmetic, is the time. The
native pass (``native.c``, built with the machine's C compiler on first use and kept in the
user's cache) walks the nodes in one call instead, each node's batch a contiguous row, with the
fused pass's gradients. It covers the built-in sum, product, maximum, minimum and logsumexp
and the identity, complement and exp kernels: every semantics whose circuits use no others
(probabilistic, log-probabilistic without negation, Goedel, max-product); a circuit with any
other kernel (or one a user replaced) runs the eager pass.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from nesy_ir.cone import Cone

from .kernels import BUILTIN_REDUCTIONS, BUILTIN_UNARY, REDUCTIONS, UNARY

#: Each kernel's operation code in ``native.c``.
CODES: dict[str, int] = {
    "sum": 0,
    "prod": 1,
    "max": 2,
    "min": 3,
    "logsumexp": 4,
    "identity": 5,
    "complement": 6,
    "exp": 7,
}

#: The dtypes the native pass runs in, and the prefix of their functions in ``native.c``.
PREFIX = {torch.float32: "nesy_f32", torch.float64: "nesy_f64"}

SOURCE = Path(__file__).with_name("native.c")


def native_code(name: str, unary: bool) -> int | None:
    """The operation code of kernel ``name``, None where the native pass lacks it or a user
    replaced the built-in kernel (:func:`~nesy_torch.kernels.register_kernel`)."""
    table, builtin = (UNARY, BUILTIN_UNARY) if unary else (REDUCTIONS, BUILTIN_REDUCTIONS)
    if name not in CODES or name not in table or table[name] is not builtin.get(name):
        return None
    return CODES[name]


@dataclass(frozen=True, eq=False)
class Program:
    """A cone (or a whole circuit) as the native pass reads it: ``leaves`` rows, then node i at
    row ``leaves + i`` applying ``ops[i]`` to the rows
    ``children[offsets[i]:offsets[i + 1]]``."""

    leaves: int
    ops: np.ndarray
    offsets: np.ndarray
    children: np.ndarray

    @property
    def arguments(self) -> tuple[int, int, int, int]:
        """The native calls' last arguments: the number of nodes, then the arrays' addresses
        (read at each call: a copied or unpickled program has arrays of its own)."""
        arrays = (self.ops, self.offsets, self.children)
        return (len(self.ops), *(a.ctypes.data for a in arrays))

    @property
    def rows(self) -> int:
        return self.leaves + len(self.ops)

    @classmethod
    def of(cls, cone: Cone, codes: Sequence[int]) -> Program:
        """The program of ``cone``, ``codes[b]`` the operation of block b's nodes."""
        parts = [part for layer in cone.layers for part in layer]
        sizes = [part.size for part in parts]
        ops = np.repeat(np.array([codes[p.block] for p in parts], dtype=np.int8), sizes)
        counts = np.concatenate([p.counts for p in parts]) if parts else np.zeros(0, np.int64)
        offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        children = np.concatenate([p.inputs for p in parts]) if parts else offsets[:0]
        return cls(cone.leaves, ops, offsets, np.ascontiguousarray(children, dtype=np.int64))


def runs_natively(t: Tensor) -> bool:
    """Whether the native pass can evaluate a batch like ``t``: on the CPU, in float32 or
    float64, where the library builds."""
    return t.device.type == "cpu" and t.dtype in PREFIX and library() is not None


def run(program: Program, h: Tensor, pick: Tensor, shape: tuple[int, ...] | None = None) -> Tensor:
    """From the leaves' rows ``h`` (leaves, B), the rows ``pick`` of the (rows, B) buffer of
    values, or (``shape`` given) its values at the flat positions ``pick``, shaped ``shape``;
    one autograd node where ``h`` wants a gradient."""
    if h.requires_grad and torch.is_grad_enabled():
        return _NativePass.apply(h, program, pick, shape)
    return _forward(program, h, pick, shape)[1]


def _forward(
    program: Program, h: Tensor, pick: Tensor, shape: tuple[int, ...] | None
) -> tuple[Tensor, Tensor]:
    """The buffer of values and the picked ones (see :func:`run`)."""
    batch = h.shape[1]
    values = h.new_empty((program.rows, batch))
    out = h.new_empty(shape if shape is not None else (len(pick), batch))
    fn = getattr(library(), f"{PREFIX[h.dtype]}_forward")
    head = (values.data_ptr(), h.data_ptr(), *h.stride(), out.data_ptr(), pick.data_ptr())
    fn(*head, len(pick), shape is not None, batch, program.leaves, *program.arguments)
    return values, out


class _NativePass(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h: Tensor, program: Program, pick: Tensor, shape: tuple[int, ...] | None):
        values, out = _forward(program, h, pick, shape)
        ctx.values, ctx.program, ctx.pick, ctx.flat = values, program, pick, shape is not None
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        values, program, pick = ctx.values, ctx.program, ctx.pick
        grads, grad = torch.empty_like(values), grad.to(values.dtype).contiguous()
        fn = getattr(library(), f"{PREFIX[values.dtype]}_backward")
        head = (values.data_ptr(), grads.data_ptr(), grad.data_ptr(), pick.data_ptr())
        fn(*head, len(pick), ctx.flat, values.shape[1], program.leaves, *program.arguments)
        return grads.narrow(0, 0, program.leaves), None, None, None


@functools.cache
def library() -> ctypes.CDLL | None:
    """``native.c`` built and loaded (once per process; the build is kept in the cache
    directory across processes); None where no C compiler builds it (:func:`build_error`)."""
    _ERRORS.clear()
    try:
        path = _build()
    except OSError as e:
        _ERRORS.append(str(e))
        return None
    except subprocess.CalledProcessError as e:
        _ERRORS.append(f"{' '.join(e.cmd)}: {e.stderr.strip()}")
        return None
    lib = ctypes.CDLL(str(path))
    pointer, count = ctypes.c_void_p, ctypes.c_int64
    program = [count, count, pointer, pointer, pointer]  # leaves, nodes, ops, offsets, children
    for prefix in PREFIX.values():
        forward = [pointer, pointer, count, count, pointer, pointer, count, count, count]
        getattr(lib, f"{prefix}_forward").argtypes = forward + program
        backward = [pointer, pointer, pointer, pointer, count, count, count]
        getattr(lib, f"{prefix}_backward").argtypes = backward + program
    return lib


_ERRORS: list[str] = []


def build_error() -> str:
    """Why the native library did not build (empty where it did or was not tried)."""
    return "; ".join(_ERRORS)


def _build() -> Path:
    """The shared library of ``native.c`` for this machine, compiled where it is not cached."""
    compiler = os.environ.get("CC") or next(
        (c for c in ("cc", "gcc", "clang") if shutil.which(c)), None
    )
    if compiler is None:
        raise OSError("no C compiler found (cc, gcc or clang)")
    flags = ["-O3", "-march=native", "-shared", "-fPIC"]
    key = hashlib.sha256(
        SOURCE.read_bytes() + " ".join([compiler, *flags, _cpu()]).encode()
    ).hexdigest()[:16]
    path = _cache_dir() / f"nesy-native-{key}.so"
    if path.exists():
        return path
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        built = Path(tmp) / path.name
        subprocess.run(
            [compiler, *flags, "-o", str(built), str(SOURCE), "-lm"],
            check=True,
            capture_output=True,
            text=True,
        )
        os.replace(built, path)  # atomic: processes building at once each keep a whole file
    return path


def _cache_dir() -> Path:
    base = os.environ.get("NESY_CACHE") or os.environ.get("XDG_CACHE_HOME")
    path = Path(base) if base else Path.home() / ".cache"
    path = path / "nesy" if not os.environ.get("NESY_CACHE") else path
    try:
        path.mkdir(parents=True, exist_ok=True)
        return path
    except OSError:
        return Path(tempfile.gettempdir())


def _cpu() -> str:
    """What ``-march=native`` compiles for: the CPU's model and flags where Linux says."""
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    return "".join(sorted({line for line in info if line.startswith(("model name", "flags"))}))
