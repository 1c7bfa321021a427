"""Start-up time of the ``nesy`` command: ``--help``, ``--version``, ``query`` and ``wmc`` on tiny
inputs, against ``python -c pass``, ``import nesy_ir`` and nesy-compile's query without the CLI.

Each command runs as a subprocess ``--runs`` times (after one unmeasured warm-up run); the table
shows the median and the fastest wall time, and the median's ratio to ``python -c pass`` and to
the same query through ``nesy_compile.compile_program`` alone (what the CLI adds). The commands
are those a user types: the ``nesy`` script next to this Python, on ``alarm.pl`` (shipped with
nesy-compile) and a four-variable weighted CNF. Python's bytecode cache is on, as in a normal
install (the warm-up run writes it, even where ``PYTHONDONTWRITEBYTECODE`` is set here): without
it, every run compiles nesy's sources again.

To time another version of the packages with the same environment, put its ``src`` folders first
on ``PYTHONPATH`` (e.g. an export of an earlier commit: ``git archive HEAD~1 | tar -x -C DIR``).

Usage::

    .venv/bin/python benchmarks/cli_startup.py [--runs 9]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tables import table  # benchmarks/ is on sys.path when this script runs

ROOT = Path(__file__).resolve().parents[1]
ALARM = ROOT / "packages/nesy-compile/src/nesy_compile/programs/alarm.pl"
CNF = "p cnf 4 3\n1 -2 0\n2 3 -4 0\n-1 4 0\nc p weight 1 0.3 0\nc p weight 2 0.6 0\n"
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ALONE = (
    "import sys; from nesy_compile import compile_program;"
    " cp = compile_program(open(sys.argv[1]).read());"
    " [print(f'{k}: {float(v):.6g}') for k, v in cp.probabilities().items()]"
)


def wall_times(argv: list[str], runs: int) -> list[float] | None:
    """Wall seconds of ``runs`` runs of ``argv`` (after one warm-up); None if it fails."""
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=ENV)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            print(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-300:]}")
            return None
        if i:
            times.append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="measured runs per command")
    args = parser.parse_args()
    python = sys.executable
    script = Path(python).with_name("nesy")
    nesy = [str(script)] if script.exists() else [python, "-m", "nesy_ir.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        cnf = Path(tmp) / "small.cnf"
        cnf.write_text(CNF)
        cases = [
            ("python -c pass", [python, "-c", "pass"]),
            ("python -c 'import nesy_ir'", [python, "-c", "import nesy_ir"]),
            ("nesy --help", [*nesy, "--help"]),
            ("nesy --version", [*nesy, "--version"]),
            ("nesy query alarm.pl", [*nesy, "query", str(ALARM)]),
            ("compile_program(alarm.pl) alone", [python, "-c", ALONE, str(ALARM)]),
            ("nesy wmc small.cnf", [*nesy, "wmc", str(cnf)]),
        ]
        start = time.perf_counter()
        medians, rows = {}, []
        for name, argv in cases:
            times = wall_times(argv, args.runs)
            if times is None:
                rows.append([name, "failed", "-", "-", "-"])
                continue
            medians[name] = statistics.median(times)
            rows.append([name, f"{medians[name]:.3f}", f"{min(times):.3f}"])
    base, alone = medians["python -c pass"], medians["compile_program(alarm.pl) alone"]
    for row in rows:
        if row[0] in medians:
            row += [f"{medians[row[0]] / base:.1f}", f"{medians[row[0]] / alone:.2f}"]
    print(f"CLI start-up: wall time of each command as a subprocess, {args.runs} runs (medians)")
    print(
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPU cores,"
        f" load average {os.getloadavg()[0]:.1f} at the end"
    )
    print()
    table(
        "(wall seconds; x pass = median / python -c pass; x alone = median / the query through"
        " compile_program without the CLI)",
        ["command", "median s", "min s", "x pass", "x alone"],
        rows,
    )
    print(f"total {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
