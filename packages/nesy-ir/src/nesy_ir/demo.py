"""``nesy demo`` (the burglary/earthquake alarm end to end) and ``nesy rewrite`` (any formula)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .circuit import Circuit
from .evaluate import evaluate, evaluate_circuit
from .labels import Labelling
from .rewrite import PIPELINE, STEPWISE, optimise, to_circuit
from .syntax import parse, to_text
from .textfile import read_text

ALARM = """
sum X in bool: sum Y in bool:
    tau[bool->prob](burglary[X]@bool + earthquake[Y]@bool)
    * burglary(V)[X]@prob * earthquake(S)[Y]@prob
"""
ALARM_FUZZY = "burglary(V)@{s} + earthquake(S)@{s}"


def _stats(c: Circuit) -> str:
    s = c.stats()
    return f"{s['nodes']} nodes, {s['edges']} edges, {s['leaves']} leaves, depth {s['depth']}"


def run_demo(args: argparse.Namespace) -> int:
    p_b, p_e = args.p_burglary, args.p_earthquake
    labels = Labelling({"burglary(v)": p_b, "earthquake(s)": p_e})
    env = {"V": "v", "S": "s"}
    formula = parse(ALARM, "alarm")
    print("The alarm (the DeepLog paper, eq. 10): P(burglary or earthquake)")
    print(f"  formula : {to_text(formula)}")
    naive = to_circuit(formula, optimised=False)
    print(f"  naive circuit (enumerate the 4 worlds): {_stats(naive)}")
    print("Rewriting step by step (the DeepLog paper, sec. 6.3.1), pass by pass:")
    current = formula
    for names in STEPWISE:
        nxt = optimise(current, labels, passes=[names])
        if nxt is not current:
            print(f"  [{' + '.join(names)}]\n    -> {to_text(nxt)}")
        current = nxt
    circuit = to_circuit(formula, labelling=labels)
    same = "the same circuit" if circuit.roots == (current,) else f"{to_text(circuit.roots[0])}"
    print(f"Default pipeline {' -> '.join('+'.join(p) for p in PIPELINE)}: {same}")
    print(f"Circuit (Figure 4): {to_text(circuit.roots[0])}")
    print(f"  {_stats(circuit)}")
    value = evaluate_circuit(circuit, labels, env)["root0"]
    oracle = evaluate(formula, labels, env)
    print(
        f"Value at p_b = {p_b}, p_e = {p_e}: {float(value):.4f}"
        f"  (enumeration of the formula: {float(oracle):.4f})"
    )
    print("The same knowledge under fuzzy semantics (direct evaluation):")
    for s in ("godel", "product", "lukasiewicz"):
        fuzzy = parse(ALARM_FUZZY.format(s=s))
        v = evaluate(fuzzy, {"burglary(v)": p_b, "earthquake(s)": p_e}, env)
        print(f"  {s:12s} {to_text(fuzzy):45s} = {float(v):.4f}")
    if args.dot:
        from .export import to_dot

        Path(args.dot).write_text(to_dot(circuit))
        print(f"Circuit written as DOT to {args.dot}")
    return 0 if np.allclose(value, oracle) else 1


def run_rewrite(args: argparse.Namespace) -> int:
    text = read_text(args.file) if args.file else args.formula
    if text is None:
        raise SystemExit("nesy rewrite: give a formula or --file")
    formula = parse(text, args.file or "<argument>")
    print(f"formula  : {to_text(formula)}")
    print(f"rewritten: {to_text(optimise(formula))}")
    print(f"naive circuit    : {_stats(to_circuit(formula, optimised=False))}")
    print(f"optimised circuit: {_stats(to_circuit(formula))}")
    return 0


def register(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Add ``nesy demo`` (with its ``alarm`` demo) and ``nesy rewrite``; return the demos'
    subparsers, where other packages add theirs."""
    demos = sub.add_parser(
        "demo",
        help="run a demo (default: MNIST addition when installed, else the alarm)",
        description="Run a demo; without a NAME, MNIST addition when nesy-models is installed,"
        " else the alarm.",
    )
    names = demos.add_subparsers(dest="demo", metavar="NAME", title="demos")
    demo = names.add_parser(
        "alarm",
        help="the burglary/earthquake alarm: formula, rewrites, circuit, value",
        description="The alarm of the DeepLog paper: its formula, the rewrites step by step,"
        " the circuit (Figure 4) and its value, under probabilistic and fuzzy semantics.",
    )
    demo.add_argument("--p-burglary", type=float, default=0.6, help="P(burglary)")
    demo.add_argument("--p-earthquake", type=float, default=0.3, help="P(earthquake)")
    demo.add_argument("--dot", help="also write the optimised circuit as Graphviz DOT here")
    demo.set_defaults(run=run_demo)
    rw = sub.add_parser("rewrite", help="rewrite a formula and compare circuit sizes")
    rw.add_argument("formula", nargs="?", help="formula text (see docs/language.md)")
    rw.add_argument("--file", help="read the formula from this file")
    rw.set_defaults(run=run_rewrite)
    return names
