"""SATNet: the implicit backward against autograd through the unrolled forward, and the JAX layer.

For each batch size B and problem size (n variables, m clauses; no auxiliary variables, k the
default ceil(sqrt(2(n+1))) + 1, half of the variables given at random, float32) the script times

* torch implicit: ``satnet_solve`` (mixing forward, coordinate-descent adjoint backward);
* torch unrolled: ``satnet_unrolled``, the same coordinate steps under plain autograd;
* JAX: ``satnet_solve_jax`` under ``jax.jit`` (forward, and ``jax.value_and_grad``);

always running exactly ``--sweeps`` sweeps (eps = 0), so every method does the same iterations.
The loss is sum(out * w) for a fixed random w. It reports forward and forward + backward
milliseconds, the ratio unrolled / implicit of forward + backward, the largest difference between
the two torch gradients of S, and memory:

* torch peak MB: the rise of the peak resident set size (VmHWM) over one forward + backward,
  measured in a fresh subprocess per method (torch has no CPU allocator statistics);
* JAX temp MB: the temporary buffers of the compiled forward + backward
  (``compiled.memory_analysis()``).

Timing (``time.perf_counter``, garbage collector off): a warm-up call, then the median of up to 5
calls within ~2 s per method. torch runs on ``--threads`` threads (default 1: the steps are small
and extra threads only contend on a shared machine).

Usage::

    .venv/bin/python benchmarks/satnet.py [--sweeps 40] [--threads 1] [--seed 0] [--no-jax]
        [--no-memory] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch

from nesy_models.satnet import satnet_solve, satnet_unrolled
from nesy_models.satnet.checks import default_k
from nesy_models.satnet.instances import random_instance

CONFIGS = [  # (B, n, m)
    (16, 16, 32),
    (128, 16, 32),
    (16, 64, 128),
    (64, 64, 128),
    (16, 128, 256),
]
METHODS = {"implicit": satnet_solve, "unrolled": satnet_unrolled}
MAX_REPEATS, BUDGET_S = 5, 2.0


def instance(batch: int, n: int, m: int, seed: int):
    """Clause matrix, probabilities, mask, initial vectors (float32) and loss weights."""
    weights = torch.randn(batch, n, generator=torch.Generator().manual_seed(seed + 1))
    return (*random_instance(seed, batch, n, m, dtype=torch.float32), weights)


def torch_step(method: str, data, sweeps: int, backward: bool):
    """One forward (and backward) of a torch method; returns the gradient of S or None."""
    S, z, is_input, init, weights = data
    S = S.clone().requires_grad_()
    out = METHODS[method](S, z, is_input, init, max_iter=sweeps, eps=0.0)
    if backward:
        (out * weights).sum().backward()
        return S.grad
    return None


def time_call(fn) -> float:
    """Median seconds of ``fn()`` after a warm-up call."""
    fn()
    times: list[float] = []
    while len(times) < MAX_REPEATS and sum(times) < BUDGET_S:
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return statistics.median(times)


def peak_rss_mb(method: str, batch: int, n: int, m: int, args) -> float:
    """Peak RSS rise (MB) of one forward + backward, in a fresh process."""
    command = [sys.executable, __file__, "--probe", method, str(batch), str(n), str(m)]
    command += ["--sweeps", str(args.sweeps), "--seed", str(args.seed), "--threads", "1"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(result.stdout.strip())


def peak_rss_kib() -> int:
    """This process's peak resident set size in KiB.

    VmHWM from /proc where there is one: ``ru_maxrss`` survives exec, so a child would inherit
    the benchmark's own peak.
    """
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def probe(method: str, batch: int, n: int, m: int, args) -> None:
    """Body of the subprocess of :func:`peak_rss_mb`: prints the peak RSS rise in MB."""
    data = instance(batch, n, m, args.seed)
    torch_step(method, instance(2, 4, 8, args.seed), 2, True)  # load the code paths
    before = peak_rss_kib()
    torch_step(method, data, args.sweeps, True)
    print((peak_rss_kib() - before) / 1024)


def jax_measurements(data, sweeps: int) -> dict:
    """JAX forward and forward + backward ms (jitted) and the compiled temp memory in MB."""
    import jax
    import jax.numpy as jnp

    from nesy_models.satnet import satnet_solve_jax

    S, z, is_input, init, weights = (jnp.asarray(t.numpy()) for t in data)

    def forward(S_, z_):
        return satnet_solve_jax(S_, z_, is_input, init, sweeps, 0.0)

    def loss(S_, z_):
        return jnp.sum(forward(S_, z_) * weights)

    fwd = jax.jit(forward)
    both = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    memory = both.lower(S, z).compile().memory_analysis()
    return {
        "jax_fwd_ms": 1e3 * time_call(lambda: fwd(S, z).block_until_ready()),
        "jax_fwd_bwd_ms": 1e3 * time_call(lambda: jax.block_until_ready(both(S, z))),
        "jax_temp_mb": memory.temp_size_in_bytes / 2**20 if memory is not None else float("nan"),
    }


def measure(batch: int, n: int, m: int, args) -> dict:
    data = instance(batch, n, m, args.seed)
    row: dict = {"B": batch, "n": n, "m": m, "k": default_k(n + 1)}
    grads = {}
    for method in METHODS:
        row[f"{method}_fwd_ms"] = 1e3 * time_call(
            lambda method=method: torch_step(method, data, args.sweeps, False)
        )
        row[f"{method}_fwd_bwd_ms"] = 1e3 * time_call(
            lambda method=method: torch_step(method, data, args.sweeps, True)
        )
        grads[method] = torch_step(method, data, args.sweeps, True)
        if args.memory:
            row[f"{method}_peak_mb"] = peak_rss_mb(method, batch, n, m, args)
    row["unrolled_over_implicit"] = row["unrolled_fwd_bwd_ms"] / row["implicit_fwd_bwd_ms"]
    row["grad_S_max_diff"] = float((grads["implicit"] - grads["unrolled"]).abs().max())
    row["grad_S_max"] = float(grads["unrolled"].abs().max())
    if args.jax:
        row.update(jax_measurements(data, args.sweeps))
    return row


COLUMNS = [  # (header, key, format)
    ("B", "B", "{}"),
    ("n", "n", "{}"),
    ("m", "m", "{}"),
    ("k", "k", "{}"),
    ("impl fwd ms", "implicit_fwd_ms", "{:.1f}"),
    ("impl f+b ms", "implicit_fwd_bwd_ms", "{:.1f}"),
    ("unroll fwd ms", "unrolled_fwd_ms", "{:.1f}"),
    ("unroll f+b ms", "unrolled_fwd_bwd_ms", "{:.1f}"),
    ("f+b unroll/impl", "unrolled_over_implicit", "{:.2f}"),
    ("|dS diff| / max", "grad_S_rel_diff", "{:.1e}"),
    ("impl peak MB", "implicit_peak_mb", "{:.1f}"),
    ("unroll peak MB", "unrolled_peak_mb", "{:.1f}"),
    ("jax fwd ms", "jax_fwd_ms", "{:.1f}"),
    ("jax f+b ms", "jax_fwd_bwd_ms", "{:.1f}"),
    ("jax temp MB", "jax_temp_mb", "{:.1f}"),
]


def table(rows: list[dict]) -> str:
    for row in rows:
        row["grad_S_rel_diff"] = row["grad_S_max_diff"] / row["grad_S_max"]
    columns = [c for c in COLUMNS if c[1] in rows[0]]
    cells = [[fmt.format(row[key]) for _, key, fmt in columns] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, (h, _, _) in enumerate(columns)]
    lines = ["  ".join(h.rjust(w) for (h, _, _), w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweeps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-jax", dest="jax", action="store_false")
    parser.add_argument("--no-memory", dest="memory", action="store_false")
    parser.add_argument("--json")
    parser.add_argument("--probe", nargs=4, metavar=("METHOD", "B", "N", "M"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.probe:
        method, *sizes = args.probe
        probe(method, *(int(s) for s in sizes), args)
        return 0
    start = time.perf_counter()
    rows = []
    for batch, n, m in CONFIGS:
        rows.append(measure(batch, n, m, args))
        print(f"done B={batch} n={n} m={m}", file=sys.stderr, flush=True)
    versions = f"python {platform.python_version()}, torch {torch.__version__}"
    if args.jax:
        import jax

        versions += f", jax {jax.__version__}"
    print(
        f"SATNet: implicit (coordinate-descent adjoint) vs unrolled autograd, {args.sweeps} "
        f"sweeps each, half the variables given, float32, torch threads {args.threads}"
    )
    print(f"{versions}, {platform.machine()}")
    print()
    print(table(rows))
    print(f"\ntotal {time.perf_counter() - start:.1f} s")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
