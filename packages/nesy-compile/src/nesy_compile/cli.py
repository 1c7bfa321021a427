"""The ``nesy wmc`` and ``nesy compile`` commands (registered through ``nesy.commands``).

Each command dispatches on the input file's suffix through a table (``WMC_INPUTS``,
``COMPILE_INPUTS``): supporting a new kind of file is one more entry there.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nesy_ir.backends import backends, get_backend
from nesy_ir.errors import NesyError

from .cnf import CNF
from .dimacs import read_dimacs
from .sdd import VTREES
from .smooth import smooth
from .translate import SEMANTICS

STRUCTURES = ("prob", "logprob", "real")


def _algebra(cnf: CNF, chosen: str | None) -> str:
    """The structure asked for; by default prob when every weight lies in [0, 1], else real."""
    if chosen:
        return chosen
    return "prob" if all(0.0 <= w <= 1.0 for w in cnf.weights.values()) else "real"


# --- nesy wmc ----------------------------------------------------------------------------------


def _wmc_cnf(args: argparse.Namespace) -> int:
    from .wmc import compile_cnf

    cnf = read_dimacs(args.file)
    structure = _algebra(cnf, args.algebra)
    evaluate = get_backend(args.backend).evaluate_circuit
    circuit, labels, _ = compile_cnf(
        cnf, structure, args.vtree, args.time_budget, minimize=args.minimize
    )
    value = float(np.asarray(evaluate(circuit, labels)[circuit.names[0]]))
    print(repr(value))  # for logprob: the log of the weighted model count
    return 0


# --- nesy compile ------------------------------------------------------------------------------


def _compile_cnf(args: argparse.Namespace) -> int:
    from .wmc import compile_cnf

    cnf = read_dimacs(args.file)
    structure = _algebra(cnf, args.algebra)
    circuit, _, stats = compile_cnf(
        cnf, structure, args.vtree, args.time_budget, minimize=args.minimize
    )
    stats = {"file": str(args.file), "structure": structure, **stats}
    stats["smoothed"] = smooth(circuit).stats()
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    sizes = ("nodes", "edges", "depth")
    print(f"{args.file}: {stats['variables']} variables, {stats['clauses']} clauses")
    print(
        f"  SDD ({args.vtree} vtree{', minimised' if args.minimize else ''}):"
        f" size {stats['sdd_size']}, {stats['sdd_nodes']} nodes, {stats['sdd_s']:.3f} s"
    )
    print(f"  d-DNNF: {stats['ddnnf_nodes']} nodes, {stats['ddnnf_edges']} edges")
    before = stats["before"]
    what = "2^n worlds enumerated" if before["what"] == "enumeration" else "the d-DNNF"
    print(f"  circuit before rewriting ({what}): " + _sizes(before, sizes))
    print(
        f"  circuit after rewriting ({structure}, {stats['rewrite_s']:.3f} s): "
        + _sizes(stats["after"], sizes)
    )
    print("  circuit after smoothing (for KLay): " + _sizes(stats["smoothed"], sizes))
    return 0


def _compiled_program(args: argparse.Namespace):
    from .grounding import ground
    from .program import load_program
    from .translate import translate

    start = time.perf_counter()
    gp = ground(load_program(args.file))
    grounding_s = time.perf_counter() - start
    cp = translate(gp, args.semantics, args.vtree, args.time_budget)
    cp.stats["grounding_s"] = grounding_s
    return cp


def _compile_program(args: argparse.Namespace) -> int:
    cp = _compiled_program(args)
    stats = {"file": str(args.file), "semantics": args.semantics, **cp.stats}
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    print(f"{args.file}: {len(cp.queries)} queries, {stats['ground_atoms']} ground atoms")
    print(f"  grounding {stats['grounding_s']:.3f} s, compile {stats['compile_s']:.3f} s")
    print(f"  logic: {stats['logic_nodes']} nodes, {stats['logic_edges']} edges")
    if "sdd_size" in stats:
        print(f"  SDD ({args.vtree} vtree): size {stats['sdd_size']}, {stats['sdd_s']:.3f} s")
    circuit = {k.removeprefix("circuit_"): v for k, v in stats.items() if k.startswith("circuit_")}
    print(f"  circuit ({args.semantics}): " + _sizes(circuit, ("nodes", "edges", "depth")))
    return 0


def _query_program(args: argparse.Namespace) -> int:
    cp = _compiled_program(args)
    for name, value in cp.probabilities().items():
        print(f"{name}: {float(value):.6g}")
    return 0


def _sizes(stats: dict, keys: tuple[str, ...]) -> str:
    return ", ".join(f"{stats[k]} {k}" for k in keys if k in stats)


# --- dispatch on the input file ----------------------------------------------------------------

#: suffix -> the command's implementation for that kind of file.
WMC_INPUTS: dict[str, Callable[[argparse.Namespace], int]] = {
    ".cnf": _wmc_cnf,
    ".dimacs": _wmc_cnf,
}
COMPILE_INPUTS: dict[str, Callable[[argparse.Namespace], int]] = {
    ".cnf": _compile_cnf,
    ".dimacs": _compile_cnf,
    ".pl": _compile_program,
}
QUERY_INPUTS: dict[str, Callable[[argparse.Namespace], int]] = {".pl": _query_program}


def _dispatch(table: dict[str, Callable[[argparse.Namespace], int]], command: str):
    def run(args: argparse.Namespace) -> int:
        suffix = Path(args.file).suffix.lower()
        handler = table.get(suffix)
        if handler is None:
            raise NesyError(
                f"{args.file}: {command} of {suffix or 'suffix-less'} files is not supported yet"
                f" (supported: {', '.join(sorted(table))})"
            )
        return handler(args)

    return run


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a DIMACS CNF (.cnf, .dimacs; 'c p weight') or a program (.pl)")
    p.add_argument(
        "--algebra",
        choices=STRUCTURES,
        help="the semiring (default: prob when all weights lie in [0, 1], else real)",
    )
    p.add_argument("--vtree", choices=VTREES, default="balanced", help="the SDD's vtree shape")
    p.add_argument("--minimize", action="store_true", help="dynamic SDD (vtree) minimisation")
    p.add_argument("--time-budget", type=float, metavar="S", help="stop compiling after S s")
    p.add_argument(
        "--semantics", choices=SEMANTICS, default="prob", help="for programs: prob or a t-norm"
    )


def register(sub: argparse._SubParsersAction) -> None:
    wmc = sub.add_parser("wmc", help="the weighted model count of a CNF, via an SDD circuit")
    _common(wmc)
    wmc.add_argument(
        "--backend",
        default="numpy",
        help=f"what evaluates the circuit (here: {', '.join(backends())})",
    )
    wmc.set_defaults(run=_dispatch(WMC_INPUTS, "wmc"))
    comp = sub.add_parser("compile", help="compile a CNF or program; print circuit statistics")
    _common(comp)
    comp.add_argument("--json", action="store_true", help="print the statistics as JSON")
    comp.set_defaults(run=_dispatch(COMPILE_INPUTS, "compile"))
    query = sub.add_parser("query", help="each query's probability (or fuzzy truth) in a program")
    _common(query)
    query.set_defaults(run=_dispatch(QUERY_INPUTS, "query"))


__all__ = [
    "COMPILE_INPUTS",
    "QUERY_INPUTS",
    "WMC_INPUTS",
    "register",
]
