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
from collections.abc import Callable, Sequence
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

#: The operation code of a sum of two-factor products, read in pairs (:meth:`Program.fused`).
SUMPROD = 8

#: The operations whose node can be a sink (:meth:`Program.sunk`): their gradients read the
#: children's values alone, never the node's own, as a product's of two factors does too.
SINKS = frozenset({CODES["sum"], CODES["identity"], CODES["complement"], SUMPROD})

#: How many sinks the pass computes before it writes them out where each example's values are
#: a run of the output (and reads their gradients, where each example's are a run of the
#: gradient's): each example's values of a tile are one run (a cache line in float32).
TILE = 16

#: The most values of an output of sinks laid out row by row, each example's values a run: a
#: larger one (of more than one example) has each sink's examples a run instead, a transposed
#: view, which the pass writes as it goes, without a tile (MNIST addition's every sum, forward
#: + backward with the log-likelihood, N = 3 and 4 at batch 32 to 1024 and N = 2 at 256 and
#: 1024: 0.79x to 0.92x the time per sum; torch's own ops on a smaller output took 2 us more in
#: that layout).
ROW_OUTPUT_VALUES = 1 << 12

#: The most values of an output that stays in the caches from the forward pass to the backward
#: (4 MB in float32, 8 in float64). A larger one streams through main memory: the pass writes
#: each of its runs past the caches (non-temporal stores, where the CPU has AVX) and fetches
#: its gradient's so, so that neither evicts the rows the pass reads (MNIST addition's every
#: sum, N = 4 at batch 256 and 1024: the forward pass 0.49x and 0.50x the time, forward +
#: backward 0.62x and 0.74x; see ``nesy_torch.native_circuit.group_width`` for the groups of
#: such a batch).
OUTPUT_VALUES = 1 << 20

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


class _Struct(ctypes.Structure):
    """``struct program`` of ``native.c``."""

    _fields_ = [  # noqa: RUF012 - ctypes reads the class attribute
        ("leaves", ctypes.c_int64),
        ("n", ctypes.c_int64),
        ("op", ctypes.c_void_p),
        ("off", ctypes.c_void_p),
        ("child", ctypes.c_void_p),
        ("sinks", ctypes.c_int64),
        ("tile", ctypes.c_int64),
    ]


@dataclass(frozen=True, eq=False)
class Program:
    """A cone (or a whole circuit) as the native pass reads it: ``leaves`` rows, then node i at
    row ``leaves + i`` applying ``ops[i]`` to the rows
    ``children[offsets[i]:offsets[i + 1]]``; the last ``sinks`` nodes, read by no node, are the
    values the pass gives out, in turn (:meth:`sunk`), and have no rows but :data:`TILE`
    shared ones."""

    leaves: int
    ops: np.ndarray
    offsets: np.ndarray
    children: np.ndarray
    sinks: int = 0

    @functools.cached_property
    def struct(self) -> _Struct:
        """The program as the native calls take it (the arrays' addresses: not copied or
        pickled with the program, whose copy has arrays of its own)."""
        addresses = (a.ctypes.data for a in (self.ops, self.offsets, self.children))
        return _Struct(self.leaves, len(self.ops), *addresses, self.sinks, TILE)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "struct"}

    @property
    def rows(self) -> int:
        """The rows of a buffer of the program's values (as ``native.c``'s ``rows``)."""
        return self.leaves + len(self.ops) - self.sinks + (TILE if self.sinks else 0)

    @classmethod
    def of(cls, cone: Cone, codes: Sequence[int]) -> Program:
        """The program of ``cone``, ``codes[b]`` the operation of block b's nodes."""
        parts = [part for layer in cone.layers for part in layer]
        sizes = [part.size for part in parts]
        ops = np.repeat(np.array([codes[p.block] for p in parts], dtype=np.int8), sizes)
        counts = np.concatenate([p.counts for p in parts]) if parts else np.zeros(0, np.int64)
        offsets = _offsets(counts)
        children = np.concatenate([p.inputs for p in parts]) if parts else offsets[:0]
        return cls(cone.leaves, ops, offsets, np.ascontiguousarray(children, dtype=np.int64))

    def fused(self, picked: np.ndarray) -> tuple[Program, np.ndarray]:
        """The program with every sum whose children are all two-factor products read by it
        alone (none of them a row in ``picked``) as one :data:`SUMPROD` node over the factors,
        the products' rows gone, and each of this program's rows' row in it (-1: gone). The
        same values, rounded alike; MNIST addition N = 4's 62,597 rows become 22,353, so
        that at batch 32 its buffers stay in the caches (docs/benchmarks.md). Linear in the
        program's size."""
        leaves, n = self.leaves, len(self.ops)
        counts = np.diff(self.offsets)
        parent = np.repeat(np.arange(n), counts)  # each edge's node
        child = self.children - leaves  # each edge's child node (< 0: a leaf)
        readers = np.bincount(self.children, minlength=leaves + n)[leaves:]
        alone = (self.ops == CODES["prod"]) & (counts == 2) & (readers == 1)
        alone[picked[picked >= leaves] - leaves] = False
        pairs = (child >= 0) & alone[np.maximum(child, 0)]
        other = np.bincount(parent[~pairs], minlength=n) > 0  # a node with another child
        sums = (self.ops == CODES["sum"]) & (counts > 0) & ~other
        gone = np.zeros(n, dtype=bool)
        gone[child[sums[parent]]] = True
        row = _rows_left(leaves, gone)
        kept = np.flatnonzero(~gone[parent])  # the edges of the nodes kept
        into = sums[parent[kept]]  # the edges of fused sums: a product each, now its factors
        widths = np.where(into, 2, 1)
        read = _ranges(np.where(into, self.offsets[np.maximum(child[kept], 0)], kept), widths)
        ops = np.where(sums, SUMPROD, self.ops).astype(np.int8)[~gone]
        widths_of = np.bincount(parent[kept], widths, minlength=n).astype(np.int64)
        children = np.ascontiguousarray(row[self.children[read]])
        return Program(leaves, ops, _offsets(widths_of[~gone]), children), row

    def sunk(self, picked: np.ndarray) -> Program:
        """The program whose sinks are the rows ``picked`` in turn: each picked node that nothing
        else reads or picks and whose gradient needs only its children's values moved to the
        end (read by none, the order still topological), and an identity node reading each other
        picked row. Its values are the same; where every root is a sink, as where a circuit
        gives every sum of MNIST addition, its buffers keep only the rows that the roots read
        (N = 4: 2,370 of 22,353), small enough to stay in the caches. Linear in the program's
        size."""
        if self.sinks:
            raise ValueError("the program has sinks already")
        leaves, n = self.leaves, len(self.ops)
        counts = np.diff(self.offsets)
        readers = np.bincount(self.children, minlength=self.rows)
        alone = (picked >= leaves) & (readers[picked] == 0) & (np.bincount(picked)[picked] == 1)
        node = picked[alone] - leaves
        sinkable = np.isin(self.ops[node], list(SINKS))
        sinkable |= (self.ops[node] == CODES["prod"]) & (counts[node] == 2)
        alone[alone], node = sinkable, node[sinkable]
        gone = np.zeros(n, dtype=bool)
        gone[node] = True
        row = _rows_left(leaves, gone)
        # the sinks: the moved nodes, and copies (an identity node each) of the other picks
        ops = np.full(len(picked), CODES["identity"], dtype=np.int8)
        first = len(self.children) + np.arange(len(picked))  # a copy reads its picked row
        widths = np.ones(len(picked), dtype=np.int64)
        ops[alone], first[alone], widths[alone] = self.ops[node], self.offsets[node], counts[node]
        ops = np.concatenate([self.ops[~gone], ops])
        first = np.concatenate([self.offsets[:-1][~gone], first])
        widths = np.concatenate([counts[~gone], widths])
        read = _ranges(first, widths)
        children = np.ascontiguousarray(row[np.concatenate([self.children, picked])[read]])
        return Program(leaves, ops, _offsets(widths), children, len(picked))


def _offsets(counts: np.ndarray) -> np.ndarray:
    """Where each node's children start, and the end: 0, then the running total of
    ``counts``."""
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def _ranges(first: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """The positions ``first[i]``, ..., ``first[i] + widths[i] - 1`` for each i, in turn."""
    starts = np.cumsum(widths) - widths
    return np.repeat(first, widths) + np.arange(widths.sum()) - np.repeat(starts, widths)


def _rows_left(leaves: int, gone: np.ndarray) -> np.ndarray:
    """Each row's row once the nodes ``gone`` are removed (-1 for those): the leaves first, then
    the nodes kept, in order."""
    row = np.concatenate([np.arange(leaves), np.full(len(gone), -1)])
    row[leaves:][~gone] = leaves + np.arange(len(gone) - gone.sum())
    return row


#: The leaf rows given whole: the labels are the rows (see :func:`run`).
ROWS = bytes([CODES["identity"]])


def runs_natively(t: Tensor) -> bool:
    """Whether the native pass can evaluate a batch like ``t``: on the CPU, in float32 or
    float64, where the library builds."""
    return t.is_cpu and t.dtype in PREFIX and library() is not None  # is_cpu: no device made


def run(
    program: Program,
    x: Tensor,
    static: Tensor,
    kernels: bytes,
    pick: Tensor | None,
    groups: Sequence[slice] | None = None,
) -> Tensor:
    """The values of the labels ``x`` (B, K) (any strides), one autograd node where ``x``
    wants a gradient: of a program with sinks, its sinks in turn (B, sinks; a transposed view
    where larger than :data:`ROW_OUTPUT_VALUES`), ``pick`` None;
    else (B, G), the values at the flat positions ``pick`` (B, G) of the (rows, B) buffer. The
    buffer's leaf rows are the ``static`` values (S, 1), then each kernel of ``kernels``
    (operation codes) applied to all K labels. ``groups`` (sinks only): slices of the
    examples, each evaluated in a buffer of its own, in turn."""
    if pick is None:
        fits = program.sinks > 0
    else:  # flat positions are a whole batch's
        whole = pick.dim() == 2 and pick.shape[0] == x.shape[0] and groups is None
        fits = whole and not program.sinks
    if not fits:  # else C would write past out
        shape = None if pick is None else tuple(pick.shape)
        raise ValueError(
            f"a program with sinks gives them all, in groups or not, and takes no pick; one"
            f" without takes (batch, values) flat positions and no groups: got {program.sinks}"
            f" sinks, pick {shape} and groups {groups} for a batch of {len(x)}"
        )
    if x.requires_grad and torch.is_grad_enabled():  # x the one tensor autograd looks at
        return _NativePass.apply(x, (program, static, kernels, pick, groups))
    return _forward(program, x, static, kernels, pick, groups, keep=False)[1]


def _forward(
    program: Program,
    x: Tensor,
    static: Tensor,
    kernels: bytes,
    pick: Tensor | None,
    groups: Sequence[slice] | None,
    keep: bool = True,
) -> tuple[list[Tensor | None], Tensor]:
    """The buffer of values of each group (one without groups; None for each where not
    ``keep``: the C call then uses a buffer of its own, faster to allocate than a tensor) and
    the picked ones (see :func:`run`)."""
    if pick is None:
        batch, sinks = x.shape[0], program.sinks
        column = batch > 1 and batch * sinks > ROW_OUTPUT_VALUES  # one example: one row
        out = x.new_empty_strided((batch, sinks), (1, batch) if column else (sinks, 1))
    else:
        out = x.new_empty(pick.shape)
    past = out.numel() > OUTPUT_VALUES  # a program's sinks alone are written past the caches
    if groups is None:  # no slicing: a view costs a microsecond at batch 1
        values = [x.new_empty((program.rows, x.shape[0])) if keep else None]
        _forward_into(values[0], out, past, program, x, static, kernels, pick)
        return values, out
    values = []
    for g in groups:
        part = x[g]
        values.append(part.new_empty((program.rows, part.shape[0])) if keep else None)
        _forward_into(values[-1], out[g], past, program, part, static, kernels, pick)
    return values, out


def _forward_into(
    values: Tensor | None,
    out: Tensor,
    past: bool,
    program: Program,
    x: Tensor,
    static: Tensor,
    kernels: bytes,
    pick: Tensor | None,
) -> None:
    """Every row of ``values`` (None: a buffer of the C call's own) from the labels ``x``, the
    picked ones written into ``out`` (past the caches where ``past``: see
    :data:`OUTPUT_VALUES`)."""
    failed = _calls()[x.dtype][0](
        None if values is None else values.data_ptr(),
        static.data_ptr(),
        static.shape[0],
        x.data_ptr(),
        x.stride(1),
        x.stride(0),
        x.shape[1],
        kernels,
        len(kernels),
        out.data_ptr(),
        *out.stride(),
        past,
        *_pick_args(pick),
        x.shape[0],
        program.struct,
    )
    if failed:
        raise MemoryError(f"the native pass found no memory for {program.rows * len(x)} values")


class _NativePass(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, call):
        program, static, kernels, pick, groups = call
        values, out = _forward(program, x, static, kernels, pick, groups)
        ctx.values, ctx.program, ctx.pick, ctx.groups = values, program, pick, groups
        ctx.labels, ctx.static, ctx.kernels = x.shape, static.shape[0], kernels
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        if torch.is_grad_enabled():  # create_graph: differentiable once, as the fused pass
            return _backward_once(ctx, grad)
        return _backward(ctx, grad)


def _backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
    """The labels' gradient from the picked values' ``grad`` (see :class:`_NativePass`)."""
    gx = grad.new_empty(ctx.labels)
    past = grad.numel() > OUTPUT_VALUES
    if ctx.groups is None:
        _backward_into(gx, ctx, ctx.values[0], grad, past)
    else:
        for values, g in zip(ctx.values, ctx.groups, strict=True):
            _backward_into(gx[g], ctx, values, grad[g], past)
    return gx, None


_backward_once = once_differentiable(_backward)


def _backward_into(gx: Tensor, ctx, values: Tensor, grad: Tensor, past: bool) -> None:
    """The gradient of the labels whose buffer of values is ``values`` into ``gx`` (by way of
    a buffer of every row's gradient that the C call allocates, and frees; ``grad`` fetched
    past the caches where ``past``)."""
    kernels = ctx.kernels
    failed = _calls()[values.dtype][1](
        values.data_ptr(),
        grad.data_ptr(),
        grad.stride(0),
        grad.stride(1),
        past,
        *_pick_args(ctx.pick),
        values.shape[1],
        gx.data_ptr(),
        gx.stride(1),
        gx.stride(0),
        ctx.static,
        gx.shape[1],
        kernels,
        len(kernels),
        ctx.program.struct,
    )
    if failed:
        raise MemoryError(f"the native pass's backward found no memory for {values.numel()} values")


def _pick_args(pick: Tensor | None) -> tuple[int | None, int]:
    """The C calls' pick and its length (none for a program with sinks)."""
    return (None, 0) if pick is None else (pick.data_ptr(), pick.numel())


@functools.cache
def _calls() -> dict[torch.dtype, tuple[Callable, Callable]]:
    """The forward and backward calls of the library, by dtype."""
    lib = library()
    return {
        dtype: (getattr(lib, f"{p}_forward"), getattr(lib, f"{p}_backward"))
        for dtype, p in PREFIX.items()
    }


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
    pointer, count, flag = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
    program = ctypes.POINTER(_Struct)
    labels = [pointer, count, count]  # x, its strides over labels and examples
    for prefix in PREFIX.values():
        getattr(lib, f"{prefix}_forward").argtypes = [
            *(pointer, pointer, count),  # values, static, S
            *(*labels, count, pointer, count),  # x, K, kernels, how many
            *(pointer, count, count, flag),  # out, its strides, past the caches
            *(pointer, count, count),  # pick, how many, B
            program,
        ]
        getattr(lib, f"{prefix}_backward").argtypes = [
            *(pointer, pointer, count, count, flag),  # values, gout, its strides, past
            *(pointer, count, count),  # pick, how many, B
            *(*labels, count, count, pointer, count),  # gx, S, K, kernels, how many
            program,
        ]
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
    # every product and sum rounded as written (no fused multiply-adds), as torch's ops round
    flags = ["-O3", "-march=native", "-ffp-contract=off", "-shared", "-fPIC"]
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
