"""Compile time and circuit size of nesy_compile, next to PySDD and ProbLog.

Four parts, each printed as one aligned table:

* (a) MNIST addition (the DeepLog paper, Appendix C): the standard encoding (N = 1, 2; N = 3 with
  ``--large``) and the carry encoding (N = 1, 2, 4, 15; 100 with ``--large``). Grounding
  (``ground(parse_program(text))``) and ``translate(gp, "prob", vtree)`` are timed separately;
  the table shows ``cp.stats`` (sdd_size, sdd_s, count_s, rewrite_s, circuit_nodes, circuit_edges)
  and the number of layers of ``nesy_ir.layerize.layerize(cp.circuit)``, the number of queries
  counted from their assignments without an SDD (``direct_queries``), and beside it the same
  translation with every query compiled to an SDD (``direct=False``, timed between two runs of
  ours, of which the faster is shown: a run after another reuses the memory it freed): its time
  and the largest relative difference of the two circuits' probabilities under random labels.
  The standard encoding with N = 4 is not run: its ground program has 10^8 rule bodies (one
  per pair of 4-digit numbers; N = 3 has 10^6), a hundred times N = 3, past this machine's
  memory.
* (b) random 3-CNFs with n = 20, 30, 40, 50, 60 variables and m = round(2.5 n) clauses (drawn
  in that order from one seeded generator): ``nesy_compile.wmc.compile_cnf(cnf, "prob", vtree)``
  against compiling the same CNF with PySDD directly (conjoin the clause disjunctions in one
  ``SddManager`` with the same vtree type), in the same run. Each side runs in a child process,
  stopped after ``--cnf-timeout`` seconds (120) or ``--cnf-memory`` GiB of address space (8):
  such a case prints ``timeout`` or ``memory``.
* (c) grounding time of our grounder against ProbLog's (``LogicFormula.create_from``) for MNIST
  standard N = 1, 2 and carry N = 4. ProbLog has no ``nn(...)``: the neural predicate is replaced
  by the annotated disjunction ``0.1::digit(X,0); ...; 0.1::digit(X,9) :- image(X).`` and an
  ``image(tensor(c)).`` fact per tensor constant. ProbLog runs in a child process; a case that
  takes more than 60 s prints ``timeout``.
* (d) a size sweep: the time from the SDD to the circuit (``compile_cnf``'s ``count_s`` and
  ``count_cpu_s``) per element of the SDD (``sdd_size``) and per circuit edge, on random 3-CNFs
  with n = 10 to 40 variables and 1.5 n or 2.5 n clauses: flat when that step is linear in the
  SDD's size (CPU time, the least of three runs, so that other jobs on the machine count less).

Times are single runs (``time.perf_counter``) in seconds.

Usage::

    .venv/bin/python benchmarks/compile.py [--vtree right] [--carry-vtree balanced]
        [--cnf-vtree balanced] [--seed 0] [--large] [--cnf-timeout 120] [--cnf-memory 8]
        [--parts abcd]

The right vtree is the faster one on the standard encoding; on the carry encoding it is far
slower than the balanced one (carry N=15 did not finish in minutes), hence one option each.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import platform
import random
import re
import resource
import sys
import time

import numpy as np

from nesy_compile.cnf import CNF
from nesy_compile.examples import DIGIT, mnist_addition_carry, mnist_addition_standard
from nesy_compile.ground_program import atom_text
from nesy_compile.grounding import ground
from nesy_compile.program import parse_program
from nesy_compile.sdd import VTREES
from nesy_compile.translate import translate
from nesy_compile.wmc import compile_cnf
from nesy_ir.layerize import layerize
from tables import table  # benchmarks/ is on sys.path when this script runs

PROBLOG_TIMEOUT_S = 60.0
SWEEP_VARS = (10, 15, 20, 25, 30, 35, 40)
SWEEP_REPEATS = 3


def ms(s: float) -> str:
    return f"{1000 * s:.1f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or a <= 0:
        return "-"
    return f"{b / a:.2f}"


# ---------------------------------------------------------------- (a) MNIST addition


def mnist_cases(large: bool) -> list[tuple[str, str]]:
    std = [1, 2, 3] if large else [1, 2]
    carry = [1, 2, 4, 15, 100] if large else [1, 2, 4, 15]
    return [(f"standard N={n}", mnist_addition_standard(n)) for n in std] + [
        (f"carry N={n}", mnist_addition_carry(n)) for n in carry
    ]


def timed_translate(gp, vtree: str, labels: dict, direct: bool) -> tuple[float, dict, dict, int]:
    """(seconds, probabilities, stats, layers) of translating ``gp``; the circuit is dropped
    before it returns, so that the next translation does not find its nodes made already."""
    t = time.perf_counter()
    cp = translate(gp, "prob", vtree, time_budget_s=300, direct=direct)
    seconds = time.perf_counter() - t
    probabilities = {k: float(v) for k, v in cp.probabilities(labels).items()}
    return seconds, probabilities, cp.stats, layerize(cp.circuit).stats()["layers"]


def random_labels(gp, rng: np.random.Generator) -> dict[str, float]:
    """A random distribution over each neural predicate's alternatives."""
    return {
        atom_text(a): float(p)
        for c in gp.choices
        if c.probabilities is None
        for a, p in zip(c.atoms, rng.dirichlet(np.ones(len(c.atoms))), strict=True)
    }


def part_mnist(vtree: str, carry_vtree: str, large: bool) -> None:
    rows = []
    for name, text in mnist_cases(large):
        vt = carry_vtree if name.startswith("carry") else vtree
        t0 = time.perf_counter()
        gp = ground(parse_program(text))
        t1 = time.perf_counter()
        labels = random_labels(gp, np.random.default_rng(0))
        first = timed_translate(gp, vt, labels, direct=True)
        every, want, _, _ = timed_translate(gp, vt, labels, direct=False)
        second = timed_translate(gp, vt, labels, direct=True)
        ours, got, s, layers = min(first, second, key=lambda run: run[0])
        diff = max(abs(got[k] / v - 1) for k, v in want.items() if v)
        rows.append(
            [
                name,
                vt,
                len(gp.queries),
                s["direct_queries"],
                ms(t1 - t0),
                ms(ours),
                ms(t1 - t0 + ours),
                ms(every),
                ratio(every, ours),
                f"{diff:.1e}",
                ms(s["sdd_s"]),
                ms(s["count_s"]),
                ms(s["rewrite_s"]),
                s["sdd_size"],
                s["circuit_nodes"],
                s["circuit_edges"],
                layers,
            ]
        )
        print(f"  done {name} ({t1 - t0 + ours:.1f} s)", file=sys.stderr, flush=True)
    table(
        "(a) MNIST addition: grounding and translate(gp, 'prob', vtree); times in ms; direct ="
        " queries counted from their assignments without an SDD; all-SDD = translate(...,"
        " direct=False), every query compiled, between two runs of translate, the faster"
        " shown (the second reuses memory the others freed, as all-SDD does); x = translate /"
        " all-SDD; rel diff = the largest relative difference of the two circuits'"
        " probabilities under random labels",
        [
            "program",
            "vtree",
            "queries",
            "direct",
            "ground ms",
            "translate ms",
            "total ms",
            "all-SDD ms",
            "x",
            "rel diff",
            "sdd ms",
            "count ms",
            "rewrite ms",
            "sdd_size",
            "circuit nodes",
            "circuit edges",
            "layers",
        ],
        rows,
    )


# ---------------------------------------------------------------- (b) random 3-CNFs


def random_cnf(n: int, rng: random.Random, ratio: float = 2.5) -> CNF:
    m = round(ratio * n)
    clauses = []
    for _ in range(m):
        vs = rng.sample(range(1, n + 1), 3)
        clauses.append(tuple(v if rng.random() < 0.5 else -v for v in vs))
    weights = {}
    for v in range(1, n + 1):
        p = rng.uniform(0.1, 0.9)
        weights[v], weights[-v] = p, 1.0 - p
    return CNF(n, tuple(clauses), weights)


def pysdd_compile(cnf: CNF, vtree: str) -> dict:
    """Wall and CPU seconds of compiling ``cnf`` with PySDD alone, and the SDD's size."""
    from pysdd.sdd import SddManager, Vtree

    t0, c0 = time.perf_counter(), time.process_time()
    n = cnf.num_vars
    mgr = SddManager.from_vtree(Vtree(n, list(range(1, n + 1)), vtree))
    f = mgr.true()
    for clause in cnf.clauses:
        c = mgr.false()
        for lit in clause:
            c = c | (mgr.literal(lit) if lit > 0 else -mgr.literal(-lit))
        f = f & c
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    mgr.garbage_collect()
    return {"wall": wall, "cpu": cpu, "size": f.size()}


def ours_compile(cnf: CNF, vtree: str) -> dict:
    """Wall and CPU seconds of compile_cnf, and its statistics (sdd_s, count_s, sizes)."""
    t0, c0 = time.perf_counter(), time.process_time()
    _circuit, _labels, s = compile_cnf(cnf, "prob", vtree)
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, **s}


def _limited_child(fn, args, memory_gb: float, q) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (int(memory_gb * 2**30),) * 2)
    gc.freeze()  # the collector leaves the parent's objects alone (no copy-on-write walks)
    try:
        q.put(fn(*args))
    except MemoryError:
        q.put("memory")


def limited(fn, args: tuple, timeout_s: float, memory_gb: float):
    """``fn(*args)`` in a child process, or "timeout" past ``timeout_s`` seconds, or "memory"
    past ``memory_gb`` GiB of address space (a MemoryError, or the child dying)."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_limited_child, args=(fn, args, memory_gb, q))
    p.start()
    try:
        return q.get(timeout=timeout_s)
    except Exception:  # queue.Empty: timed out, or the child died (out of memory)
        return "timeout" if p.is_alive() else "memory"
    finally:
        if p.is_alive():
            p.terminate()
        p.join()


def part_cnf(vtree: str, seed: int, timeout_s: float, memory_gb: float) -> None:
    rng = random.Random(seed)
    rows = []
    for n in (20, 30, 40, 50, 60):
        cnf = random_cnf(n, rng)
        ours = limited(ours_compile, (cnf, vtree), timeout_s, memory_gb)
        py = limited(pysdd_compile, (cnf, vtree), timeout_s, memory_gb)
        row = [f"cnf n={n}", len(cnf.clauses)]
        if isinstance(ours, dict):
            row += [ms(ours["wall"]), ms(ours["cpu"]), ms(ours["sdd_s"]), ms(ours["count_s"])]
            after = ours["after"]
            row += [ours["sdd_size"], after["nodes"], after["edges"], after["depth"]]
        else:
            row += [ours] + ["-"] * 7
        row += (
            [ms(py["wall"]), ms(py["cpu"]), py["size"]] if isinstance(py, dict) else [py, "-", "-"]
        )
        if isinstance(ours, dict) and isinstance(py, dict):
            row += [ratio(py[k], ours[k]) for k in ("wall", "cpu")]
            row += [ratio(py["wall"], ours["sdd_s"])]
        else:
            row += ["-"] * 3
        rows.append(row)
        print(f"  done cnf n={n}", file=sys.stderr, flush=True)
    table(
        f"(b) random 3-CNF (m = round(2.5 n), seed {seed}): compile_cnf(cnf, 'prob', {vtree!r})"
        " vs PySDD alone (same vtree type), each in a child process stopped after"
        f" {timeout_s:g} s or {memory_gb:g} GiB; wall and CPU times in ms;"
        " x = ours / pysdd",
        [
            "formula",
            "m",
            "ours ms",
            "ours cpu",
            "sdd ms",
            "count ms",
            "sdd_size",
            "circuit nodes",
            "circuit edges",
            "depth",
            "pysdd ms",
            "pysdd cpu",
            "pysdd size",
            "x",
            "cpu x",
            "sdd x",
        ],
        rows,
    )


# ---------------------------------------------------------------- (d) count time against size


def part_sweep(vtree: str, seed: int, timeout_s: float, memory_gb: float) -> None:
    """The SDD -> circuit step (compile_cnf's count_s and count_cpu_s: the weighted count in one
    pass over the SDD, then merging) against the SDD's size, on random 3-CNFs of growing n; the
    run of least CPU time of SWEEP_REPEATS, each in a child process."""
    rng = random.Random(seed)
    rows = []
    for n in SWEEP_VARS:
        for ratio_ in (1.5, 2.5):
            cnf = random_cnf(n, rng, ratio_)
            name = f"n={n} m={len(cnf.clauses)}"
            runs = []
            while len(runs) < SWEEP_REPEATS and all(isinstance(r, dict) for r in runs):
                runs.append(limited(ours_compile, (cnf, vtree), timeout_s, memory_gb))
            done = [r for r in runs if isinstance(r, dict)]
            if not done:
                rows.append([name, 0, runs[0], "-", "-", "-", "-", "-"])
                continue
            s = min(done, key=lambda r: r["count_cpu_s"])
            size, edges, cpu = s["sdd_size"], s["after"]["edges"], s["count_cpu_s"]
            rows.append(
                [
                    name,
                    size,
                    ms(s["sdd_s"]),
                    ms(s["count_s"]),
                    ms(cpu),
                    f"{1e6 * cpu / size:.2f}",
                    edges,
                    f"{1e6 * cpu / edges:.2f}",
                ]
            )
        print(f"  done sweep n={n}", file=sys.stderr, flush=True)
    rows.sort(key=lambda r: r[1])
    table(
        f"(d) time from the SDD to the circuit against the SDD's size (random 3-CNFs, seed {seed},"
        f" m = round(1.5 n) and round(2.5 n), vtree {vtree!r}; the run of least count CPU time"
        f" of {SWEEP_REPEATS}); times in ms, us = CPU microseconds",
        [
            "formula",
            "sdd_size",
            "sdd ms",
            "count ms",
            "count cpu",
            "us / sdd_size",
            "circuit edges",
            "us / edge",
        ],
        rows,
    )


# ---------------------------------------------------------------- (c) grounding vs ProbLog


def problog_text(text: str) -> str:
    """``text`` with the ``nn`` line replaced by an annotated disjunction over image/1."""
    tensors = sorted(set(re.findall(r"tensor\(\w+\)", text)))
    ad = "; ".join(f"0.1::digit(X,{d})" for d in range(10)) + " :- image(X).\n"
    facts = "".join(f"image({t}).\n" for t in tensors)
    assert DIGIT in text
    return text.replace(DIGIT, ad + facts)


def _problog_child(text: str, q) -> None:
    from problog.formula import LogicFormula
    from problog.program import PrologString

    t0 = time.perf_counter()
    lf = LogicFormula.create_from(PrologString(text))
    dt = time.perf_counter() - t0
    q.put((dt, len(lf), len(list(lf.queries()))))


def problog_ground(text: str) -> tuple[float, int, int] | None:
    """(seconds, formula size, queries) of ProbLog's grounding, or None past the timeout."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_problog_child, args=(text, q))
    p.start()
    try:
        return q.get(timeout=PROBLOG_TIMEOUT_S)
    except Exception:  # queue.Empty: timed out (or the child died)
        return None
    finally:
        if p.is_alive():
            p.terminate()
        p.join()


def part_grounding() -> None:
    cases = [
        ("standard N=1", mnist_addition_standard(1)),
        ("standard N=2", mnist_addition_standard(2)),
        ("carry N=4", mnist_addition_carry(4)),
    ]
    rows = []
    for name, text in cases:
        t0 = time.perf_counter()
        gp = ground(parse_program(text))
        ours = time.perf_counter() - t0
        pl = problog_ground(problog_text(text))
        if pl is None:
            rows.append([name, ms(ours), len(gp.queries), "timeout", "-", "-", "-"])
        else:
            rows.append(
                [name, ms(ours), len(gp.queries), ms(pl[0]), pl[1], pl[2], ratio(ours, pl[0])]
            )
        print(f"  done grounding {name}", file=sys.stderr, flush=True)
    table(
        "(c) grounding: ours (ground(parse_program(text))) vs ProbLog"
        " (LogicFormula.create_from, nn -> annotated disjunction); times in ms;"
        " x = problog / ours",
        [
            "program",
            "ours ms",
            "ours queries",
            "problog ms",
            "problog formula nodes",
            "problog queries",
            "x",
        ],
        rows,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vtree", default="right", choices=VTREES, help="standard encoding")
    ap.add_argument("--carry-vtree", default="balanced", choices=VTREES, help="carry encoding")
    ap.add_argument("--cnf-vtree", default="balanced", choices=VTREES, help="random CNFs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--large", action="store_true", help="also standard N=3 and carry N=100")
    ap.add_argument("--cnf-timeout", type=float, default=120.0, help="seconds per CNF and side")
    ap.add_argument("--cnf-memory", type=float, default=8.0, help="GiB per CNF and side")
    ap.add_argument("--parts", default="abcd", help="which parts to run, e.g. 'bd'")
    args = ap.parse_args()

    import numpy
    import problog.version

    start = time.perf_counter()
    print(
        f"Compilation benchmark: vtree {args.vtree!r} (standard encoding),"
        f" {args.carry_vtree!r} (carry encoding), {args.cnf_vtree!r} (CNFs), large={args.large}"
    )
    print(
        f"python {platform.python_version()}, numpy {numpy.__version__},"
        f" problog {problog.version.version}, {platform.machine()},"
        f" {mp.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}"
    )
    print()
    parts = {
        "a": lambda: part_mnist(args.vtree, args.carry_vtree, args.large),
        "b": lambda: part_cnf(args.cnf_vtree, args.seed, args.cnf_timeout, args.cnf_memory),
        "c": part_grounding,
        "d": lambda: part_sweep(args.cnf_vtree, args.seed, args.cnf_timeout, args.cnf_memory),
    }
    for name in args.parts:
        parts[name]()
    print(f"total {time.perf_counter() - start:.1f} s, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
