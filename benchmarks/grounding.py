"""The grounder's time on the MNIST-addition programs (standard N = 2, 3; carry N = 15, 100)
and on a chain of 2,000 clauses of one predicate (``link(i) :- link(i-1).``, a call per clause:
the case first-argument indexing is for).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/grounding.py

Prints, per program, the best of 3 times of ``ground(parse_program(text))`` and the number of
ground rule bodies. Run it on two checkouts (``PYTHONPATH`` pointing at each one's
``packages/nesy-ir/src`` and ``packages/nesy-compile/src``) to compare the grounder before and
after a change: the rule bodies must be equal, the times within the machine's noise.
"""

from __future__ import annotations

import time

import nesy_compile
from nesy_compile.examples import mnist_addition_carry, mnist_addition_standard
from nesy_compile.grounding import ground
from nesy_compile.program import parse_program


def chain(n: int) -> str:
    """``link(0)`` from a probabilistic fact, ``link(i) :- link(i-1).``, a query at the end."""
    links = "".join(f"link({i}) :- link({i - 1}).\n" for i in range(1, n))
    return f"0.5::s.\nlink(0) :- s.\n{links}query(link({n - 1})).\n"


CASES = (
    ("chain of 2,000 clauses", chain, 2000),
    ("standard N=2", mnist_addition_standard, 2),
    ("standard N=3", mnist_addition_standard, 3),
    ("carry N=15", mnist_addition_carry, 15),
    ("carry N=100", mnist_addition_carry, 100),
)


def main() -> None:
    print(f"nesy_compile from {nesy_compile.__file__}")
    print("| program | rule bodies | ms (best of 3) |")
    print("|---|---|---|")
    for name, make, n in CASES:
        text = str(make(n))
        best = float("inf")
        for _ in range(3):
            began = time.perf_counter()
            program = ground(parse_program(text), max_depth=100_000)
            best = min(best, time.perf_counter() - began)
        bodies = sum(len(b) for b in program.rules.values())
        print(f"| {name} | {bodies:,} | {1000 * best:.0f} |", flush=True)


if __name__ == "__main__":
    main()
