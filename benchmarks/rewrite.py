"""Circuit size and reference evaluation time before and after rewriting.

For each formula the script lowers it twice:

* before: ``to_circuit(f, optimised=False)`` -- the naive enumeration circuit: every aggregation is
  expanded over all assignments of its variable, nothing is simplified;
* after:  ``to_circuit(f)`` -- the default rewrite pipeline, then the remaining aggregations
  expanded.

It reports the size of both circuits (``Circuit.stats()``: nodes, edges), the time ``to_circuit``
takes in each mode, and the time of the NumPy reference evaluator (``evaluate_circuit``) on a
batch of random labels, and checks that both circuits give the same values (exit status 1 and a
``FAIL`` line if not).

Formulas:

* ``alarm``: the DeepLog paper eq. 10, ``sum_X sum_Y tau(b[X] + e[Y]) * wb(v)[X] * we(s)[Y]``;
* ``cnf n=N``: the naive model-counting formula of a random 3-CNF over N Boolean variables with
  ``m = round(2.5 N)`` clauses (three distinct variables per clause, each negated with
  probability 1/2), ``sum_X0 ... sum_X{N-1} tau(cnf) * w0[X0] * ... * w{N-1}[X{N-1}]``;
  three random instances per N, and each column is the median over the instances (reduction
  factors are the medians of the per-instance factors).

Timing (``time.perf_counter``, garbage collector off during a measurement, as ``timeit``
does): ``to_circuit`` is timed once per instance (a second call would find its nodes already
interned). An evaluation measurement runs the call in a loop long enough to take at least
~50 ms (a single call if it already takes that long, and then the warm-up call counts as the
first measurement); there are up to 3 measurements, fewer once they together take more than
1 s; the median per-call time is reported.

Usage::

    PYTHONPATH=packages/nesy-ir/src python3 benchmarks/rewrite.py [--max-n 14] [--seed 0]
        [--batch 256] [--instances 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time

import numpy as np

from nesy_ir import Node, Var, aggregate, apply, atom, transform
from nesy_ir.evaluate import evaluate_circuit
from nesy_ir.rewrite import to_circuit

try:  # optional progress bar
    from tqdm import tqdm
except ImportError:  # pragma: no cover - depends on the environment
    tqdm = None

MIN_MEASURE_S = 0.05  # a measurement takes at least this long (or one call)
MAX_REPEATS = 3
REPEAT_BUDGET_S = 1.0  # stop repeating once the measurements took this long together


# --- formulas ------------------------------------------------------------------------------


def alarm_formula() -> tuple[Node, dict]:
    """The alarm formula and the environment binding its regular variables."""
    X, Y = Var("X"), Var("Y")
    b = atom("burglary", (), "bool", X)
    e = atom("earthquake", (), "bool", Y)
    wb = atom("burglary", (Var("V"),), "prob", X)
    we = atom("earthquake", (Var("S"),), "prob", Y)
    body = transform(b + e, "prob") * wb * we
    formula = aggregate("sum", X, "bool", aggregate("sum", Y, "bool", body))
    return formula, {"V": "v", "S": "s"}


def alarm_labels(rng: np.random.Generator, batch: int) -> dict:
    return {"burglary(v)": rng.random(batch), "earthquake(s)": rng.random(batch)}


def random_3cnf(n: int, m: int, rng: np.random.Generator) -> list[list[tuple[int, bool]]]:
    """``m`` clauses of three distinct variables out of ``n``; (variable, negated) literals."""
    clauses = []
    for _ in range(m):
        variables = rng.choice(n, size=3, replace=False)
        negated = rng.random(3) < 0.5
        clauses.append([(int(v), bool(s)) for v, s in zip(variables, negated, strict=True)])
    return clauses


def cnf_formula(n: int, clauses: list[list[tuple[int, bool]]]) -> Node:
    """The naive enumeration formula: sum over all 2^n reified assignments of tau(cnf) * weights."""
    xs = [Var(f"X{i}") for i in range(n)]
    lits = [atom(f"a{i}", (), "bool", xs[i]) for i in range(n)]
    cnf = apply(
        "times", *(apply("plus", *(~lits[v] if neg else lits[v] for v, neg in c)) for c in clauses)
    )
    body = transform(cnf, "prob")
    for i in range(n):
        body = body * atom(f"w{i}", (), "prob", xs[i])
    formula = body
    for i in reversed(range(n)):  # X0 outermost
        formula = aggregate("sum", xs[i], "bool", formula)
    return formula


def cnf_labels(n: int, rng: np.random.Generator, batch: int) -> dict:
    return {f"w{i}": rng.random(batch) for i in range(n)}


# --- measurement ---------------------------------------------------------------------------


def time_once(fn):
    """``fn()`` and the seconds it took, with the garbage collector off (as ``timeit`` does)."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - t0
    finally:
        gc.enable()


def time_call(fn) -> float:
    """Median seconds per call of ``fn`` (see the module docstring for the protocol)."""
    _, first = time_once(fn)  # a warm-up, and the first measurement if it is long enough
    if first >= MIN_MEASURE_S:
        loops, per_call = 1, [first]
    else:
        loops, per_call = int(np.ceil(MIN_MEASURE_S / max(first, 1e-7))), []
    spent = first
    while len(per_call) < MAX_REPEATS and spent <= REPEAT_BUDGET_S:
        _, elapsed = time_once(lambda: [fn() for _ in range(loops)])
        per_call.append(elapsed / loops)
        spent += elapsed
    return statistics.median(per_call)


def measure(formula: Node, labels: dict, env: dict | None) -> dict:
    """Lower ``formula`` both ways, time lowering and evaluation, check that the values agree."""
    after, lower_after = time_once(lambda: to_circuit(formula))
    before, lower_before = time_once(lambda: to_circuit(formula, optimised=False))
    sb, sa = before.stats(), after.stats()
    vb = evaluate_circuit(before, labels, env)["root0"]
    va = evaluate_circuit(after, labels, env)["root0"]
    agree = bool(np.allclose(vb, va, rtol=1e-9, atol=1e-12))
    row = {
        "nodes_before": sb["nodes"],
        "nodes_after": sa["nodes"],
        "edges_before": sb["edges"],
        "edges_after": sa["edges"],
        "depth_before": sb["depth"],
        "depth_after": sa["depth"],
        "lower_naive_s": lower_before,
        "lower_opt_s": lower_after,
        "eval_before_s": time_call(lambda: evaluate_circuit(before, labels, env)),
        "eval_after_s": time_call(lambda: evaluate_circuit(after, labels, env)),
        "agree": agree,
        "max_abs_diff": float(np.max(np.abs(np.broadcast_to(vb, np.shape(va)) - va))),
        "satisfiable": bool(np.any(np.asarray(va) > 0)),
    }
    row["nodes_x"] = row["nodes_before"] / row["nodes_after"]
    row["edges_x"] = row["edges_before"] / max(row["edges_after"], 1)
    row["eval_x"] = row["eval_before_s"] / row["eval_after_s"]
    return row


NUMERIC = (
    "nodes_before", "nodes_after", "edges_before", "edges_after", "depth_before", "depth_after",
    "lower_naive_s", "lower_opt_s", "eval_before_s", "eval_after_s", "nodes_x", "edges_x", "eval_x",
)  # fmt: skip


def summarise(name: str, m: int | None, runs: list[dict]) -> dict:
    row = {"formula": name, "m": m, "instances": len(runs)}
    for key in NUMERIC:
        row[key] = statistics.median(r[key] for r in runs)
    row["satisfiable"] = sum(r["satisfiable"] for r in runs)
    row["agree"] = all(r["agree"] for r in runs)
    row["max_abs_diff"] = max(r["max_abs_diff"] for r in runs)
    row["runs"] = runs
    return row


# --- output --------------------------------------------------------------------------------

COLUMNS = [
    ("formula", "formula", "<", lambda r: r["formula"]),
    ("m", "m", ">", lambda r: "-" if r["m"] is None else str(r["m"])),
    ("sat", "sat", ">", lambda r: f"{r['satisfiable']}/{r['instances']}"),
    ("nodes_b", "nodes before", ">", lambda r: f"{r['nodes_before']:.0f}"),
    ("nodes_a", "nodes after", ">", lambda r: f"{r['nodes_after']:.0f}"),
    ("edges_b", "edges before", ">", lambda r: f"{r['edges_before']:.0f}"),
    ("edges_a", "edges after", ">", lambda r: f"{r['edges_after']:.0f}"),
    ("lower_n", "to_circuit naive ms", ">", lambda r: f"{1e3 * r['lower_naive_s']:.1f}"),
    ("lower_o", "to_circuit opt ms", ">", lambda r: f"{1e3 * r['lower_opt_s']:.1f}"),
    ("eval_b", "eval before ms", ">", lambda r: f"{1e3 * r['eval_before_s']:.3f}"),
    ("eval_a", "eval after ms", ">", lambda r: f"{1e3 * r['eval_after_s']:.3f}"),
    ("nx", "nodes x", ">", lambda r: f"{r['nodes_x']:.1f}"),
    ("ex", "edges x", ">", lambda r: f"{r['edges_x']:.1f}"),
    ("tx", "eval x", ">", lambda r: f"{r['eval_x']:.1f}"),
]


def table(rows: list[dict]) -> str:
    cells = [[fmt(r) for *_, fmt in COLUMNS] for r in rows]
    heads = [head for _, head, _, _ in COLUMNS]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]

    def line(values):
        return "  ".join(
            f"{v:{align}{w}}"
            for v, w, (_, _, align, _) in zip(values, widths, COLUMNS, strict=True)
        ).rstrip()

    out = [line(heads), line("-" * w for w in widths)]
    out += [line(c) for c in cells]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-n", type=int, default=14, help="largest CNF size (default 14)")
    parser.add_argument("--min-n", type=int, default=4, help="smallest CNF size (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="base random seed (default 0)")
    parser.add_argument("--instances", type=int, default=3, help="random CNFs per n (default 3)")
    parser.add_argument("--batch", type=int, default=256, help="label batch size (default 256)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON to PATH")
    args = parser.parse_args(argv)

    sizes = list(range(args.min_n, args.max_n + 1))
    jobs = [("alarm", None, 0)] + [
        (f"cnf n={n}", n, k) for n in sizes for k in range(args.instances)
    ]
    progress = (
        tqdm(total=len(jobs), file=sys.stderr, desc="rewrite", unit="formula")
        if tqdm is not None
        else None
    )

    # warm-up: the first to_circuit() loads the rule-set plugins (entry points); keep that out of
    # the first timing (a throwaway formula, so no node of the measured ones gets interned)
    _z = Var("Z")
    to_circuit(aggregate("sum", _z, "bool", transform(atom("_warm", (), "bool", _z), "prob")))

    t_start = time.perf_counter()
    failures: list[str] = []
    runs: dict[str, list[dict]] = {}
    ms: dict[str, int | None] = {}
    for name, n, k in jobs:
        if progress is not None:
            progress.set_postfix_str(f"{name} #{k}")
        if n is None:
            formula, env = alarm_formula()
            labels = alarm_labels(np.random.default_rng([args.seed, 0]), args.batch)
            m = None
        else:
            m = round(2.5 * n)
            rng = np.random.default_rng([args.seed, n, k])
            formula, env = cnf_formula(n, random_3cnf(n, m, rng)), None
            labels = cnf_labels(n, rng, args.batch)
        run = measure(formula, labels, env)
        if n is None:  # closed form: P(burglary or earthquake)
            pb, pe = labels["burglary(v)"], labels["earthquake(s)"]
            exact = 1 - (1 - pb) * (1 - pe)
            va = evaluate_circuit(to_circuit(formula), labels, env)["root0"]
            if not np.allclose(va, exact, rtol=1e-9, atol=1e-12):
                run["agree"] = False
                failures.append(f"{name}: the circuit differs from 1-(1-p_b)(1-p_e)")
        if not run["agree"]:
            where = f"{name} instance {k} (rng seed [{args.seed}, {n}, {k}])" if n else name
            failures.append(
                f"{where}: before and after differ, max |diff| = {run['max_abs_diff']:.3g}"
            )
        runs.setdefault(name, []).append(run)
        ms[name] = m
        if progress is not None:
            progress.update()
    if progress is not None:
        progress.close()
    rows = [summarise(name, ms[name], rs) for name, rs in runs.items()]
    total = time.perf_counter() - t_start

    print(
        "Rewriting: circuit size and NumPy reference evaluation time, naive enumeration"
        " (to_circuit(f, optimised=False)) vs the default pipeline (to_circuit(f))"
    )
    print(
        f"cnf n=N: random 3-CNF, m = round(2.5 N) clauses, {args.instances} instances per N"
        f" (seed {args.seed}), medians over instances; sat = instances with a model;"
        f" eval on a batch of {args.batch} random labels"
    )
    print(
        f"python {platform.python_version()}, numpy {np.__version__},"
        f" {platform.machine()}, {_cpus()} CPU cores"
    )
    print()
    print(table(rows))
    print()
    verdict = "yes" if not failures else "NO"
    print(f"all before/after values agree (np.allclose): {verdict}; total {total:.1f} s")
    for f in failures:
        print(f"FAIL {f}")

    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "seed": args.seed,
                    "batch": args.batch,
                    "instances": args.instances,
                    "python": platform.python_version(),
                    "numpy": np.__version__,
                    "rows": rows,
                },
                fh,
                indent=1,
            )
    return 1 if failures else 0


def _cpus() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
