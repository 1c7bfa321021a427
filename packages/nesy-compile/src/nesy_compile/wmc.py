"""Weighted model counting of a CNF as a DeepLog formula, compiled with PySDD.

The weighted model count of F with literal weights w is the formula

    sum_{X1 in bool} ... sum_{Xn in bool} tau[bool->S](F) * x1[X1]@S * ... * xn[Xn]@S

where F is the CNF over the reified Boolean atoms ``x{i}[X{i}]@bool`` and the label of
``x{i}[true]@S`` is w(i), that of ``x{i}[false]@S`` is w(-i). :func:`compile_cnf` replaces F by
the d-DNNF PySDD compiles, so that nesy-ir's rewrites push tau to the leaves (with the SDD as
the determinism oracle) and resolve every aggregation: the result is a circuit linear in the
d-DNNF.
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
from nesy_ir.nodes import Kind
from nesy_ir.rewrite import Context, optimise, to_circuit
from nesy_ir.traverse import postorder, size

from .cnf import CNF
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

    The statistics: variables, clauses, seconds of SDD compilation (``sdd_s``), of reading the
    SDD back as IR (``to_ir_s``) and of rewriting and lowering (``rewrite_s``); SDD size and node
    count; the d-DNNF's IR size; the circuit before rewriting (``before``: the enumeration of
    all 2^n worlds for n <= 12, else the d-DNNF) and after (``after``).
    """
    labels = _labelling(cnf, structure)
    t0 = time.perf_counter()
    keys = [f"X{i}" for i in range(1, cnf.num_vars + 1)]
    bridge = SddBridge(keys, vtree, time_budget_s, size_budget, minimize)
    with Meter("SDD compilation", progress=progress, unit=" applies") as bridge.meter:
        sdd = bridge.to_sdd(cnf_bool_formula(cnf))
    t1 = time.perf_counter()
    ddnnf = bridge.to_ir(sdd)
    t2 = time.perf_counter()
    formula = _wmc_over(ddnnf, cnf.num_vars, structure)
    ctx = Context(labelling=labels, exclusive=bridge.exclusive, deterministic=bridge.deterministic)
    optimised = optimise(formula, ctx=ctx)
    stuck = _unresolved(optimised)
    if stuck is not None:
        raise NesyError(
            f"rewriting left the aggregation over {stuck} on a Boolean formula, which lowering"
            " would enumerate: the determinism of the d-DNNF was not shown"
        )
    circuit = to_circuit(optimised, ["wmc"], ctx=ctx, optimised=False)
    t3 = time.perf_counter()
    nodes, edges = size([ddnnf])
    if cnf.num_vars <= MAX_ENUMERATED_VARS:
        before = {"what": "enumeration", **to_circuit(formula, ["wmc"], optimised=False).stats()}
    else:
        before = {"what": "d-DNNF", "nodes": nodes, "edges": edges}
    stats = {
        "variables": cnf.num_vars,
        "clauses": len(cnf.clauses),
        "vtree": vtree,
        "sdd_s": t1 - t0,
        "to_ir_s": t2 - t1,
        "rewrite_s": t3 - t2,
        "sdd_size": sdd.size(),
        "sdd_nodes": sdd.count(),
        "ddnnf_nodes": nodes,
        "ddnnf_edges": edges,
        "before": before,
        "after": circuit.stats(),
    }
    return circuit, labels, stats


def _unresolved(root: Node) -> str | None:
    """The variable of an aggregation left over a transformed Boolean formula, or None.

    Aggregations over weights alone (sum_X w[X], kept where the labels are not normalised) or
    over constants (an unsatisfiable CNF) are cheap to expand and fine.
    """
    logic: dict[Node, bool] = {}
    for n in postorder([root]):
        logic[n] = n.kind is Kind.TRANSFORM or any(logic[c] for c in n.children)
        if n.kind is Kind.AGG and logic[n]:
            return n.arg.var
    return None


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
