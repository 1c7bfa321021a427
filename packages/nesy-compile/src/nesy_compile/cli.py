"""The ``nesy wmc``, ``nesy compile`` and ``nesy query`` commands (registered through
``nesy.commands``).

Each command dispatches on the input file's suffix through a table (``WMC_INPUTS``,
``COMPILE_INPUTS``, ``QUERY_INPUTS``): supporting a new kind of file is one more entry there.
``--example NAME`` reads a program shipped with nesy-compile instead of a file.

Registering the commands imports nothing heavy (no PySDD): each command imports what it needs
when it runs, so that ``nesy --help`` and ``nesy query`` start fast.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from nesy_ir.errors import NesyError

from .ground_program import atom_text
from .options import SEMANTICS, VTREES

STRUCTURES = ("prob", "logprob", "real")


def examples() -> dict[str, str]:
    """The programs shipped as examples: name -> the first line of the program's comment."""
    found = {}
    for entry in sorted((files(__package__) / "programs").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".pl"):
            first = entry.read_text(encoding="utf-8").partition("\n")[0]
            found[entry.name.removesuffix(".pl")] = first.lstrip("% ").strip()
    return found


def _source(args: argparse.Namespace) -> str:
    """The input's name in messages: the file, or the example's name."""
    return f"{args.example}.pl" if getattr(args, "example", None) else str(args.file)


def _algebra(cnf, chosen: str | None) -> str:
    """The structure asked for; by default prob when every weight lies in [0, 1], else real."""
    if chosen:
        return chosen
    return "prob" if all(0.0 <= w <= 1.0 for w in cnf.weights.values()) else "real"


# --- nesy wmc ----------------------------------------------------------------------------------


def _compiled_cnf(args: argparse.Namespace):
    """The DIMACS file compiled: (structure, circuit, labels, stats)."""
    from .dimacs import read_dimacs
    from .wmc import compile_cnf

    cnf = read_dimacs(args.file)
    structure = _algebra(cnf, args.algebra)
    compiled = compile_cnf(
        cnf,
        structure,
        args.vtree,
        args.time_budget,
        minimize=args.minimize,
        progress=args.progress,
    )
    return structure, *compiled


def _wmc_cnf(args: argparse.Namespace) -> int:
    import numpy as np

    from nesy_ir.backends import get_backend

    evaluate = get_backend(args.backend).evaluate_circuit
    structure, circuit, labels, _ = _compiled_cnf(args)
    value = float(np.asarray(evaluate(circuit, labels)[circuit.names[0]]))
    if args.json:
        result = {"file": str(args.file), "algebra": structure, "backend": args.backend}
        print(json.dumps({**result, "value": value}, indent=2))
    else:
        print(repr(value))  # for logprob: the log of the weighted model count
    return 0


# --- nesy compile ------------------------------------------------------------------------------


def _compile_cnf(args: argparse.Namespace) -> int:
    from nesy_ir.smooth import smooth

    structure, circuit, _, stats = _compiled_cnf(args)
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
        f"  circuit after rewriting ({structure}, {stats['count_s']:.3f} s): "
        + _sizes(stats["after"], sizes)
    )
    print("  circuit after smoothing (for KLay): " + _sizes(stats["smoothed"], sizes))
    return 0


def _load_program(args: argparse.Namespace):
    """The program of the file or the example; a NesyError when it has nothing to compute."""
    from .examples import shipped
    from .program import load_program, parse_program

    name = _source(args)
    if args.example:
        program = parse_program(shipped(args.example), name)
    else:
        program = load_program(args.file)
    if not program.queries:
        empty = not (program.clauses or program.disjunctions or program.neural)
        what = "the program is empty" if empty else "the program has no queries"
        raise NesyError(f"{name}: {what}: nothing to compute; add a query, e.g. 'query(alarm).'")
    return program


def _compiled_program(args: argparse.Namespace):
    """Ground and compile the program; ``--time-budget`` covers both, from the start.
    ``--evidence`` (of ``nesy query``) adds to the program's evidence."""
    import time
    from dataclasses import replace

    from .grounding import ground
    from .program import parse_evidence
    from .progress import Deadline
    from .translate import translate

    deadline = Deadline(args.time_budget)
    program = _load_program(args)
    extra = tuple(parse_evidence(text) for text in getattr(args, "evidence", None) or ())
    if extra:
        program = replace(program, evidence=program.evidence + extra)
    start = time.perf_counter()
    gp = ground(program, time_budget_s=deadline, progress=args.progress)
    grounding_s = time.perf_counter() - start
    if not gp.queries:
        raise NesyError(
            f"{_source(args)}: no query has an instance that can be true"
            f" ({', '.join(str(q.atom) for q in program.queries)})"
        )
    cp = translate(gp, args.semantics, args.vtree, deadline, progress=args.progress)
    cp.stats["grounding_s"] = grounding_s
    return cp


def _compile_program(args: argparse.Namespace) -> int:
    cp = _compiled_program(args)
    name = _source(args)
    stats = {"file": name, "semantics": args.semantics, **cp.stats}
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    print(f"{name}: {len(cp.queries)} queries, {stats['ground_atoms']} ground atoms")
    print(f"  grounding {stats['grounding_s']:.3f} s, compile {stats['compile_s']:.3f} s")
    print(f"  logic: {stats['logic_nodes']} nodes, {stats['logic_edges']} edges")
    if stats.get("direct_queries"):
        print(
            f"  {stats['direct_queries']} of {len(cp.queries)} queries counted from their"
            " assignments, without an SDD"
        )
    if "sdd_size" in stats:
        print(f"  SDD ({args.vtree} vtree): size {stats['sdd_size']}, {stats['sdd_s']:.3f} s")
    circuit = {k.removeprefix("circuit_"): v for k, v in stats.items() if k.startswith("circuit_")}
    print(f"  circuit ({args.semantics}): " + _sizes(circuit, ("nodes", "edges", "depth")))
    return 0


def _inference(name: str):
    """The function ``name`` of ``nesy_ir.inference`` (posterior marginals, MPE, sampling)."""
    import importlib

    try:
        module = importlib.import_module("nesy_ir.inference")
    except ImportError:
        module = None
    found = getattr(module, name, None)
    if found is None:
        raise NesyError(f"this nesy-ir has no nesy_ir.inference.{name}: upgrade nesy-ir")
    return found


def _user_atoms(values: dict) -> dict:
    """``values`` without the helper atoms grounding introduces (names starting with ``_``)."""
    return {k: v for k, v in values.items() if not k.startswith("_")}


def _posterior(cp, args: argparse.Namespace) -> dict:
    """What ``--marginals``, ``--mpe`` and ``--samples`` ask for, given the evidence."""
    circuit, root, labels = cp.evidence_circuit(), cp.evidence_root, cp.labels()
    out: dict = {}
    asked = [f for f, on in (("--marginals", args.marginals), ("--mpe", args.mpe)) if on]
    asked += ["--samples"] if args.samples is not None else []
    if asked and cp.semantics != "prob":
        raise NesyError(
            f"{' and '.join(asked)} under the {cp.semantics} semantics: posterior inference is"
            " defined for probabilities (prob) only"
        )
    if args.marginals:
        marginals = _inference("posterior_marginals")(circuit, labels, root=root)
        out["marginals"] = {k: float(v) for k, v in _user_atoms(marginals).items()}
    if args.mpe:
        assignment, probability = _inference("mpe")(circuit, labels, root=root)
        out["mpe"] = {
            "assignment": {k: bool(v) for k, v in _user_atoms(assignment).items()},
            "probability": float(probability),
        }
    if args.samples is not None:
        if args.samples < 1:
            raise NesyError(f"--samples {args.samples}: give at least one sample")
        draws = _inference("sample")(circuit, labels, root=root, k=args.samples, seed=args.seed)
        out["samples"] = {k: [bool(x) for x in v] for k, v in _user_atoms(draws).items()}
    return out


def _literal(atom: str, value: bool) -> str:
    return atom if value else f"\\+{atom}"


def _query_program(args: argparse.Namespace) -> int:
    cp = _compiled_program(args)
    values = {name: float(value) for name, value in cp.conditionals().items()}
    given = float(cp.probabilities()[cp.evidence_root]) if cp.evidence else 1.0
    posterior = _posterior(cp, args)
    if args.json:
        result = {
            "file": _source(args),
            "semantics": args.semantics,
            "evidence": [
                {"atom": atom_text(e.atom), "value": e.value, "location": e.location}
                for e in cp.evidence
            ],
            "evidence_probability": given,
            "values": values,
            **posterior,
        }
        print(json.dumps(result, indent=2))
        return 0
    if cp.evidence:
        evidence = ", ".join(_literal(atom_text(e.atom), e.value) for e in cp.evidence)
        print(f"given {evidence} (probability {given:.6g}):")
    for name, value in values.items():
        print(f"{name}: {value:.6g}")
    if "marginals" in posterior:
        print("marginals:")
        for name, value in posterior["marginals"].items():
            print(f"  {name}: {value:.6g}")
    if "mpe" in posterior:
        mpe = posterior["mpe"]
        print(f"most probable explanation (probability {mpe['probability']:.6g}):")
        print("  " + ", ".join(_literal(k, v) for k, v in mpe["assignment"].items()))
    samples = posterior.get("samples", {})
    for i, draw in enumerate(zip(*samples.values(), strict=True)):
        literals = (_literal(k, v) for k, v in zip(samples, draw, strict=True))
        print(f"sample {i + 1}: " + ", ".join(literals))
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
        example = getattr(args, "example", None)
        if (args.file is None) == (example is None):
            raise NesyError(
                "give a file or --example NAME"
                if args.file is None
                else "give a file or --example NAME, not both"
            )
        suffix = ".pl" if example else Path(args.file).suffix.lower()
        handler = table.get(suffix)
        if handler is None:
            raise NesyError(
                f"{args.file}: {command} of {suffix or 'suffix-less'} files is not supported yet"
                f" (supported: {', '.join(sorted(table))})"
            )
        return handler(args)

    return run


# --- the options: one name and one help text per thing, in every command -----------------------


def _file(p: argparse.ArgumentParser, what: str, programs: bool) -> None:
    p.add_argument("file", nargs="?" if programs else None, help=what)
    if programs:
        p.add_argument(
            "--example",
            choices=tuple(examples()),
            metavar="NAME",
            help="a program shipped with nesy instead of a file (listed below)",
        )


def _cnf_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--algebra",
        choices=STRUCTURES,
        help="for CNFs: the semiring (default: prob when all weights lie in [0, 1], else real)",
    )
    p.add_argument(
        "--minimize", action="store_true", help="for CNFs: dynamic SDD (vtree) minimisation"
    )


def _program_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--semantics",
        choices=SEMANTICS,
        default="prob",
        help="for programs: probabilistic, or fuzzy under a t-norm",
    )


def _compile_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vtree", choices=VTREES, default="balanced", help="the SDD's vtree shape")
    p.add_argument(
        "--time-budget",
        type=float,
        metavar="S",
        help="give up once compiling, grounding included, has taken S seconds (default: no limit)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="progress bars on stderr (default: when stderr is a terminal)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _evidence_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--evidence",
        action="append",
        metavar="ATOM[=true|false]",
        help="condition on a ground atom being true (default) or false, like ProbLog's"
        " evidence/2; repeatable, adds to the program's evidence (prob semantics only)",
    )
    p.add_argument(
        "--marginals",
        action="store_true",
        help="also P(atom | evidence) for every probabilistic fact and neural atom",
    )
    p.add_argument(
        "--mpe",
        action="store_true",
        help="also the most probable assignment of the probabilistic facts given the evidence",
    )
    p.add_argument(
        "--samples",
        type=int,
        metavar="K",
        help="also K exact samples of the probabilistic facts given the evidence",
    )
    p.add_argument("--seed", type=int, default=0, help="the seed of --samples")


def _examples_epilog() -> str:
    rows = examples()
    width = max(map(len, rows), default=0)
    listing = "\n".join(f"  {name:{width}}  {text}" for name, text in rows.items())
    return f"shipped example programs (--example NAME):\n{listing}"


def register(sub: argparse._SubParsersAction) -> None:
    cnf = "a DIMACS CNF (.cnf, .dimacs; weights on 'c p weight' lines)"
    wmc = sub.add_parser(
        "wmc",
        help="the weighted model count of a CNF, via an SDD circuit",
        description="The weighted model count of a DIMACS CNF: compiled with PySDD into a"
        " d-DNNF, rewritten into a circuit, evaluated by a backend.",
    )
    _file(wmc, cnf, programs=False)
    _cnf_options(wmc)
    _compile_options(wmc)
    wmc.add_argument(
        "--backend",
        default="numpy",
        help="what evaluates the circuit (numpy, or an installed backend: torch, jax, klay)",
    )
    wmc.set_defaults(run=_dispatch(WMC_INPUTS, "wmc"))

    epilog = _examples_epilog()
    comp = sub.add_parser(
        "compile",
        help="compile a CNF or program; print circuit statistics",
        description="Compile a DIMACS CNF or a ProbLog/DeepProbLog-style program (.pl) into a"
        " circuit and print its statistics: grounding, SDD and circuit sizes, times.",
        epilog=epilog,
    )
    _file(comp, f"{cnf} or a program (.pl)", programs=True)
    _program_options(comp)
    _cnf_options(comp)
    _compile_options(comp)
    comp.set_defaults(run=_dispatch(COMPILE_INPUTS, "compile"))

    query = sub.add_parser(
        "query",
        help="each query's probability given the evidence (or fuzzy truth) in a program",
        description="Each query's probability given the evidence (ProbLog's evidence/1,2 and"
        " --evidence), or its truth degree under a fuzzy semantics, in a ProbLog/DeepProbLog-style"
        " program (.pl): grounded, compiled, evaluated.",
        epilog=epilog,
    )
    _file(query, "a program (.pl)", programs=True)
    _program_options(query)
    _compile_options(query)
    _evidence_options(query)
    query.set_defaults(run=_dispatch(QUERY_INPUTS, "query"))


__all__ = [
    "COMPILE_INPUTS",
    "QUERY_INPUTS",
    "WMC_INPUTS",
    "examples",
    "register",
]
