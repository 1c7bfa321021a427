"""Circuit evaluation speed on every backend, side by side in one run.

    .venv/bin/python benchmarks/circuits.py [--cnf 20,40,60] [--batches 1,16,256,1024]
        [--only carry]

Circuits: weighted model counting of random 3-CNFs (n variables, 2.5 n clauses, compiled with
PySDD and rewritten, then smoothed, which KLay needs) and the MNIST-addition programs. Labels:
one probability per variable (``x[false]`` gets 1 - p). For each circuit and batch size it times
forward and forward + backward (gradient of the summed roots w.r.t. the labels) of:

- nesy-torch as ``lower`` gives it: the native pass, in C (``klay=False``);
- torch's floor: a module whose one autograd node only allocates its output and the labels'
  gradient, under the same harness (no torch module is faster; ``floor / jax`` above 1.5 puts
  the JAX target out of any torch module's reach);
- nesy-torch's generic gather + reduce path (``klay=False, native=False``);
- the same through ``torch.compile`` (``compile=True``: one program per batch width);
- nesy-torch through KLay (``klay=True``, where the circuit fits KLay);
- ``klaycircuits`` used directly on the SDD (CNFs only), batched with ``torch.vmap``;
- nesy-jax (jitted; gradient by ``jax.grad``);
- PySDD's own weighted model count, looped over the batch (forward only);
- the NumPy reference (layered evaluation, forward only).

It prints milliseconds (the variants measured in turn, three rounds; each variant's best round's
median of repeats after warm-up), the ratios the targets are set on (native / KLay direct <=
1.0, PySDD looped / native >= 100 at batch 256 on circuits of 10,000 nodes and more, native /
jax <= 1.5; and floor / jax, generic / jax and compiled / jax), the seconds of JAX's and of the
compiled module's first call at that batch size (tracing and compilation; torch's compiled
programs are cached on disk, so a second run finds them) and the peak extra memory of each
variant at the last batch size (see ``peak_memory``).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import torch

import nesy_jax
import nesy_torch
from nesy_compile import compile_program
from nesy_compile.cnf import CNF
from nesy_compile.examples import mnist_addition_carry, mnist_addition_standard
from nesy_compile.ground_program import atom_text
from nesy_compile.sdd import SddBridge
from nesy_compile.wmc import cnf_bool_formula, compile_cnf
from nesy_ir.allocator import M_MMAP_MAX, M_MMAP_THRESHOLD, libc, reuse_freed_memory
from nesy_ir.layerize import evaluate_layered, layerize
from nesy_ir.smooth import smooth


def random_cnf(n: int, seed: int) -> CNF:
    rng = random.Random(seed)
    clauses = [
        tuple(v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), 3))
        for _ in range(round(2.5 * n))
    ]
    return CNF(n, tuple(clauses), {})


def _memory_kb() -> tuple[int, int]:
    status = Path("/proc/self/status").read_text().split("\n")
    get = {
        ln.split(":")[0]: int(ln.split()[1]) for ln in status if ln.startswith(("VmRSS", "VmHWM"))
    }
    return get["VmRSS"], get["VmHWM"]


def measure(fn: Callable[[], object], budget_s: float = 1.0) -> float:
    """Median ms of ``fn()`` after two warm-up calls."""
    fn()
    fn()
    times, began = [], time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - began < budget_s and len(times) < 50):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def peak_memory(fns: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Peak extra MB of two calls of each function (Linux VmHWM, reset before each). Meanwhile
    glibc gives every freed block back to the OS (else a variant reuses the memory an earlier
    one freed, its resident size does not grow and its peak reads 0); timings are not taken
    then, as that makes every allocation a page fault."""
    glibc = libc()
    if glibc is not None:  # blocks of 64 KB and more mmap'd again, as many as glibc allows
        glibc.mallopt(M_MMAP_MAX, 1 << 16)
        glibc.mallopt(M_MMAP_THRESHOLD, 1 << 16)
    peaks = {}
    for name, fn in fns.items():
        if glibc is not None:
            glibc.malloc_trim(0)
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark
        except OSError:
            pass
        start_rss, _ = _memory_kb()
        fn()
        fn()
        _, peak = _memory_kb()
        peaks[name] = max(peak - start_rss, 0) / 1024
    reuse_freed_memory()  # as the timings run (see main)
    return peaks


def torch_variant(module, x: np.ndarray, backward: bool):
    t = torch.tensor(x, dtype=torch.float32)

    def forward():
        with torch.no_grad():
            module.matrix(t)

    def both():
        xs = t.clone().requires_grad_()
        module.matrix(xs).sum().backward()

    return both if backward else forward


class _Floor(torch.autograd.Function):
    """The least a torch autograd node does: allocate its output, and the labels' gradient."""

    @staticmethod
    def forward(ctx, x, roots: int):
        ctx.shape = x.shape
        return x.new_zeros((len(x), roots))

    @staticmethod
    def backward(ctx, grad):
        return grad.new_zeros(ctx.shape), None


class Floor:
    """A module of ``roots`` roots computing nothing through :class:`_Floor`: the time any
    torch module takes under the same harness (the torch calls of ``torch_variant``)."""

    def __init__(self, roots: int):
        self.roots = roots

    def matrix(self, x):
        return _Floor.apply(torch.as_tensor(x), self.roots)


def jax_variant(lowered, x: np.ndarray, backward: bool):
    xs = jnp.asarray(x, jnp.float32)
    grad = jax.jit(jax.grad(lambda m: lowered.matrix(m).sum()))
    if backward:
        return lambda: grad(xs).block_until_ready()
    return lambda: lowered.matrix(xs).block_until_ready()


def klay_direct(sdd):
    """KLay's torch module built from the SDD itself, batched with vmap over (n, B) weights."""
    import klay

    circuit = klay.Circuit()
    circuit.add_sdd(sdd)
    module = torch.vmap(circuit.to_torch_module(semiring="real"), in_dims=(1, 1))
    return module


def pysdd_looped(sdd, x: np.ndarray):
    manager = sdd.wmc(log_mode=False)
    n = x.shape[1]

    def run():
        for row in x:
            for i in range(n):
                manager.set_literal_weight(i + 1, float(row[i]))
                manager.set_literal_weight(-(i + 1), float(1.0 - row[i]))
            manager.propagate()

    return run


def circuits(args) -> list[dict]:
    """Every benchmarked circuit whose name contains ``--only``: name, nesy circuit, dynamic
    keys, SDD (CNFs) or None (the others not compiled)."""
    out = []
    for n in map(int, args.cnf.split(",")):
        if args.only not in f"3-CNF n={n}":
            continue
        cnf = random_cnf(n, seed=n)
        circuit, _, _ = compile_cnf(cnf, "prob", "balanced")
        keys = [f"x{i}" for i in range(1, n + 1)]
        bridge = SddBridge([f"X{i}" for i in range(1, n + 1)], "balanced")
        sdd = bridge.to_sdd(cnf_bool_formula(cnf))
        out.append({"name": f"3-CNF n={n}", "circuit": smooth(circuit), "keys": keys, "sdd": sdd})
    for name, text, vtree in (
        ("addition N=1", mnist_addition_standard(1), "right"),
        ("addition N=2", mnist_addition_standard(2), "right"),
        ("carry N=4", mnist_addition_carry(4), "balanced"),
    ):
        if args.only not in name:
            continue
        compiled = compile_program(text, "prob", vtree)
        keys = [atom_text(a) for a in compiled.neural]
        out.append({"name": name, "circuit": compiled.circuit, "keys": keys, "sdd": None})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cnf", default="20,40,60")
    parser.add_argument("--batches", default="1,16,256,1024")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--only", default="", help="only the circuits whose name contains this")
    parser.add_argument(
        "--op-by-op",
        action="store_true",
        help="also time the generic module with autograd recording each op (no fused pass)",
    )
    args = parser.parse_args()
    reuse_freed_memory()  # as the nesy command runs
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    columns = [c for c in COLUMNS if args.op_by_op or c != "op by op"]
    header = f"{'circuit':14} {'batch':>5} {'pass':4} " + " ".join(f"{v:>11}" for v in columns)
    for item in circuits(args):
        layered = layerize(item["circuit"])
        stats = layered.stats()
        print(
            f"\n{item['name']}: {stats['nodes']} nodes, {stats['edges']} edges, {stats['layers']}"
            f" layers, {len(item['keys'])} label keys"
        )
        print(
            header + "   native/klay  pysdd/native  native/jax floor/jax  generic/jax  compiled/jax"
            "  jax jit s  compile s"
        )
        native = nesy_torch.lower(layered, dynamic=item["keys"], klay=False, native=True)
        generic = nesy_torch.lower(layered, dynamic=item["keys"], klay=False, native=False)
        compiled = nesy_torch.lower(layered, dynamic=item["keys"], klay=False, compile=True)
        try:
            smoothed = layerize(smooth(item["circuit"]))  # KLay needs smooth circuits
            via_klay = nesy_torch.lower(smoothed, dynamic=item["keys"], klay=True)
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            via_klay, why = None, str(e).split("\n")[0][:60]
            print(f"  (no KLay path: {why})")
        lowered = nesy_jax.lower(layered, dynamic=item["keys"])
        direct = klay_direct(item["sdd"]) if item["sdd"] is not None else None
        variants = {
            "native": native,
            "floor": Floor(len(layered.names)),
            "generic": generic,
            "compiled": compiled,
            "via klay": via_klay,
            "jax": lowered,
            "direct": direct,
        }
        if args.op_by_op:
            variants["op by op"] = nesy_torch.lower(
                layered, dynamic=item["keys"], klay=False, native=False
            )
            variants["op by op"].fuse = False  # as before the fused pass
        memory: dict[str, float] = {}
        for batch in map(int, args.batches.split(",")):
            x = rng.uniform(0.05, 0.95, (batch, len(item["keys"])))
            for backward in (False, True):
                row = bench(item, layered, variants, x, backward, args.budget, memory)
                line = f"{item['name']:14} {batch:>5} {'f+b' if backward else 'fwd':4}"
                print(f"{line} {cells(row, columns)}")
        extra = ", ".join(f"{k} {v:.1f}" for k, v in memory.items())
        print(f"  peak extra memory (MB, last batch): {extra}")


COLUMNS = (
    "native",
    "floor",
    "generic",
    "compiled",
    "op by op",
    "via klay",
    "klay direct",
    "jax",
    "pysdd loop",
    "numpy",
)


def bench(item, layered, variants, x, backward, budget, memory) -> dict[str, float]:
    """Milliseconds of every variant that applies, for labels ``x``; peak memory into memory."""
    fns: dict[str, Callable[[], object]] = {
        name: torch_variant(variants[name], x, backward) for name in ("native", "floor", "generic")
    }
    fns["compiled"] = torch_variant(variants["compiled"], x, backward)
    if "op by op" in variants:
        fns["op by op"] = torch_variant(variants["op by op"], x, backward)
    if variants["via klay"] is not None:
        fns["via klay"] = torch_variant(variants["via klay"], x, backward)
    if variants["direct"] is not None:
        fns["klay direct"] = direct_variant(variants["direct"], x, backward)
    fns["jax"] = jax_variant(variants["jax"], x, backward)
    if not backward and item["sdd"] is not None and len(x) <= 256:
        fns["pysdd loop"] = pysdd_looped(item["sdd"], x)
    if not backward:
        labels = {k: x[:, i] for i, k in enumerate(item["keys"])}
        fns["numpy"] = lambda: evaluate_layered(layered, labels)
    row = {}
    for name in ("jax", "compiled"):  # the first call traces and compiles
        began = time.perf_counter()
        fns[name]()
        row[f"{name} s"] = time.perf_counter() - began
    for fn in fns.values():  # one-time costs (allocator pools, caches) paid before measuring
        fn()
    for _ in range(ROUNDS):  # interleaved: a burst of load elsewhere hits one round, not a column
        for name, fn in fns.items():
            ms = measure(fn, budget / ROUNDS)
            row[name] = min(row.get(name, ms), ms)
    memory.update(peak_memory(fns))
    return row


#: Rounds over the variants; each one's time is its best round's median.
ROUNDS = 3


def cells(row: dict[str, float], columns: list[str]) -> str:
    def ratio(a: str, b: str) -> str:
        return f"{row[a] / row[b]:>8.2f}" if a in row and b in row else f"{'-':>8}"

    times = " ".join(f"{row[v]:>11.3f}" if v in row else f"{'-':>11}" for v in columns)
    return (
        f"{times}  {ratio('native', 'klay direct')}     {ratio('pysdd loop', 'native')}"
        f"   {ratio('native', 'jax')}  {ratio('floor', 'jax')}    {ratio('generic', 'jax')}"
        f"     {ratio('compiled', 'jax')}"
        f"   {row['jax s']:>8.2f}   {row['compiled s']:>9.2f}"
    )


def direct_variant(direct, x: np.ndarray, backward: bool):
    weights = torch.tensor(x.T, dtype=torch.float32)

    def run():
        w = weights.clone().requires_grad_(backward)
        out = direct(w, 1 - w)
        if backward:
            out.sum().backward()

    return run


if __name__ == "__main__":
    main()
