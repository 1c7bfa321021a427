"""Weighted model counting of a CNF as a DeepLog formula, compiled with PySDD.

The weighted model count of F with literal weights w is the formula

    sum_{X1 in bool} ... sum_{Xn in bool} tau[bool->S](F) * x1[X1]@S * ... * xn[Xn]@S

where F is the CNF over the reified Boolean atoms ``x{i}[X{i}]@bool`` and the label of
``x{i}[true]@S`` is w(i), that of ``x{i}[false]@S`` is w(-i). :func:`compile_cnf` compiles F
with PySDD and resolves the whole formula in one pass over the SDD, which is a d-DNNF
(deterministic and decomposable by construction): a literal becomes its weight, a decision node
the sum of its elements' products, a variable an operand misses its weight's total (the work of
nesy-ir's ``resolve_wmc`` rule, :class:`nesy_ir.rewrite.wmc.WeightedCount`, on the SDD itself).
The circuit is linear in the SDD's size, and so is the time to build it.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from nesy_ir import (
    Circuit,
    LabelFunction,
    Labelling,
    Node,
    Var,
    aggregate,
    apply,
    atom,
    const,
    transform,
)
from nesy_ir.errors import LabelError, NesyError
from nesy_ir.rewrite import Context, to_circuit
from nesy_ir.rewrite.merge import merge_unshared
from nesy_ir.rewrite.wmc import WeightedCount
from nesy_ir.traverse import size

from .cnf import CNF
from .collector import collector_paused
from .progress import Meter
from .sdd import SddBridge

STRUCTURES = ("prob", "logprob", "real")
#: The unoptimised lowering enumerates 2^n worlds: only measured up to this many variables.
MAX_ENUMERATED_VARS = 12


def _bool_atom(i: int) -> Node:
    return atom(f"x{i}", (), "bool", Var(f"X{i}"))


def cnf_bool_formula(cnf: CNF) -> Node:
    """The CNF as an IR Boolean formula over ``x{i}[X{i}]@bool``."""

    def lit(v: int) -> Node:
        a = _bool_atom(abs(v))
        return a if v > 0 else apply("neg", a)

    clauses = [apply("plus", *map(lit, c)) if c else const(False, "bool") for c in cnf.clauses]
    return apply("times", *clauses) if clauses else const(True, "bool")


def _labelling(cnf: CNF, structure: str) -> Labelling:
    """One labelling function per variable; ``normalised`` exactly where w(i) + w(-i) = 1.

    Functions, not plain values: for values, ``Labelling.normalised`` answers from the structure
    alone (prob is complemented, so every ``sum_X x[X]`` would become 1), which is wrong when
    w(i) + w(-i) != 1.
    """
    if structure not in STRUCTURES:
        raise NesyError(f"unknown structure {structure!r} for WMC (use one of {STRUCTURES})")
    functions = []
    for i in range(1, cnf.num_vars + 1):
        pos, neg = cnf.weight(i), cnf.weight(-i)
        for lit, w in ((i, pos), (-i, neg)):
            if structure != "real" and not 0.0 <= w <= 1.0:
                raise LabelError(
                    f"weight {w} of literal {lit} is outside [0, 1]: {structure} needs"
                    " probabilities (use the structure 'real')"
                )
        if structure == "logprob":
            with np.errstate(divide="ignore"):
                pos, neg = float(np.log(pos)), float(np.log(neg))
        normalised = math.isclose(cnf.weight(i) + cnf.weight(-i), 1.0, rel_tol=0, abs_tol=1e-12)

        def fn(args, rvalue, pos=pos, neg=neg):
            return neg if rvalue is False else pos

        functions.append(LabelFunction(f"x{i}", structure, fn, normalised))
    return Labelling(functions=functions)


def _wmc_over(boolean: Node, num_vars: int, structure: str) -> Node:
    """sum_X1 ... sum_Xn tau[bool->S](boolean) * x1[X1]@S * ... * xn[Xn]@S."""
    weights = [atom(f"x{i}", (), structure, Var(f"X{i}")) for i in range(1, num_vars + 1)]
    body = apply("times", transform(boolean, structure), *weights)
    for i in range(num_vars, 0, -1):
        body = aggregate("plus", f"X{i}", "bool", body)
    return body


def wmc_formula(cnf: CNF, structure: str = "prob") -> tuple[Node, Labelling]:
    """The DeepLog formula of the weighted model count of ``cnf`` and its labelling."""
    labels = _labelling(cnf, structure)
    return _wmc_over(cnf_bool_formula(cnf), cnf.num_vars, structure), labels


@collector_paused()
def compile_cnf(
    cnf: CNF,
    structure: str = "prob",
    vtree: str = "balanced",
    time_budget_s: float | None = None,
    size_budget: int | None = None,
    minimize: bool = False,
    progress: bool | None = False,
) -> tuple[Circuit, Labelling, dict[str, Any]]:
    """(circuit, labelling, statistics) for the weighted model count of ``cnf``.

    ``progress`` counts the SDD apply operations on stderr (None: if stderr is a terminal).

    The statistics: variables, clauses, seconds of SDD compilation (``sdd_s``) and of the
    weighted count (``count_s``, and of CPU ``count_cpu_s``: one pass over the SDD, time linear
    in its size, then :func:`nesy_ir.rewrite.merge.merge_unshared`, linear in the circuit,
    then validating the circuit); SDD size and node
    count; the size of the one pass's circuit before merging (``ddnnf_nodes``, ``ddnnf_edges``:
    the SDD as a d-DNNF, one (+) per decision node and one (x) per element of two non-constant
    parts, a literal one leaf, smoothing factors where labels are not normalised); the circuit
    before (``before``: the enumeration of all 2^n worlds for n <= 12, else that d-DNNF) and
    after (``after``).
    """
    labels = _labelling(cnf, structure)
    t0 = time.perf_counter()
    n = cnf.num_vars
    bridge = SddBridge(
        [f"X{i}" for i in range(1, n + 1)], vtree, time_budget_s, size_budget, minimize
    )
    with Meter("SDD compilation", progress=progress, unit=" applies") as bridge.meter:
        sdd = bridge.to_sdd(cnf_bool_formula(cnf))
    t1, c1 = time.perf_counter(), time.process_time()
    weights = {f"X{i}": [atom(f"x{i}", (), structure, Var(f"X{i}"))] for i in range(1, n + 1)}
    counted = bridge.count(sdd, WeightedCount(structure, weights, Context(labelling=labels)))
    if counted is None:  # never: tau[bool->S] of every WMC structure counts a d-DNNF
        raise NesyError(f"the weighted count in {structure} is not exact on a d-DNNF")
    circuit = Circuit(merge_unshared([counted]), ["wmc"])
    t2, c2 = time.perf_counter(), time.process_time()
    nodes, edges = size([counted])
    if cnf.num_vars <= MAX_ENUMERATED_VARS:
        formula = _wmc_over(cnf_bool_formula(cnf), cnf.num_vars, structure)
        before = {"what": "enumeration", **to_circuit(formula, ["wmc"], optimised=False).stats()}
    else:
        before = {"what": "d-DNNF", "nodes": nodes, "edges": edges}
    stats = {
        "variables": cnf.num_vars,
        "clauses": len(cnf.clauses),
        "vtree": vtree,
        "sdd_s": t1 - t0,
        "count_s": t2 - t1,
        "count_cpu_s": c2 - c1,
        "sdd_size": sdd.size(),
        "sdd_nodes": sdd.count(),
        "ddnnf_nodes": nodes,
        "ddnnf_edges": edges,
        "before": before,
        "after": circuit.stats(),
    }
    return circuit, labels, stats


def brute_force_wmc(cnf: CNF) -> float:
    """The weighted model count by enumerating all 2^n assignments (small n only)."""
    n = cnf.num_vars
    if n > 20:
        raise ValueError(f"brute force over {n} variables: 2^{n} assignments is too many")
    worlds = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(bool)  # column i-1: var i
    sat = np.ones(2**n, dtype=bool)
    for clause in cnf.clauses:
        sat &= np.logical_or.reduce(
            [worlds[:, abs(v) - 1] == (v > 0) for v in clause], initial=False
        )
    weight = np.ones(2**n)
    for i in range(1, n + 1):
        weight *= np.where(worlds[:, i - 1], cnf.weight(i), cnf.weight(-i))
    return float(np.sum(weight[sat]))
