"""Smoothing weighted circuits, and checkers for smoothness, decomposability and determinism.

A weighted circuit compiled from a d-DNNF has leaves that are reified label slots of Boolean
variables: ``p(args)[true]@S`` and ``p(args)[false]@S`` stand for the one variable
``(p, args)``. A (+) node is *smooth* when all its children mention the same variables. KLay
(and any evaluation in a semiring whose per-variable sums ``v[true] (+) v[false]`` are not the
(x) neutral, such as max-product) needs smooth circuits.

What smoothing preserves: a variable missing below one child of a (+) node is summed out
implicitly, and that is exact only where ``v[true] (+) v[false]`` is one. :func:`smooth` makes
the sum explicit, so the smoothed circuit has the same value for every labelling whose
per-variable sums are one (normalised labels: probabilities with complemented false labels,
their logarithms). For other labellings it gives the weighted model count (or the max-product
value) of the d-DNNF's models, which the unsmoothed circuit does not.

Circuits of logic programs (``nesy_compile.compile_program``, probabilistic semantics) write
the false alternative of a choice, labelled one, as the constant one, which folds away: a branch
that sets such a variable false no longer mentions it. Those circuits are exact as they are, and
smoothing them would multiply in ``v[true] + 1``: smooth the circuits of CNFs, not of programs.
"""

from __future__ import annotations

import numpy as np

from .circuit import Circuit
from .labels import slot_key
from .nodes import Kind, Node, apply, atom, transform
from .registry import get_algebra, get_transformation
from .traverse import postorder

Variable = tuple[str, tuple]  # (predicate, args)


def variable(node: Node) -> Variable | None:
    """The Boolean variable of a reified label slot ``p(args)[true|false]@S``, else None.

    Reified atoms of the Boolean structure are constants (their label is their truth value).
    """
    if node.kind is Kind.ATOM and isinstance(node.arg.rvar, bool) and node.structure != "bool":
        return node.arg.predicate, node.arg.args
    return None


def variables(circuit: Circuit) -> dict[Node, frozenset[Variable]]:
    """The variables below each node of ``circuit``."""
    out: dict[Node, frozenset[Variable]] = {}
    for n in circuit.nodes():
        if n.children:
            out[n] = frozenset().union(*(out[c] for c in n.children))
        else:
            v = variable(n)
            out[n] = frozenset() if v is None else frozenset((v,))
    return out


def _order(v: Variable) -> tuple[str, str]:
    return slot_key(*v), repr(v[1])


# --- checkers -------------------------------------------------------------------------------


def is_smooth(circuit: Circuit) -> bool:
    """Whether every (+) node's children mention the same variables."""
    vs = variables(circuit)
    return all(len({vs[c] for c in n.children}) == 1 for n in circuit.nodes() if n.is_op("plus"))


def is_decomposable(circuit: Circuit) -> bool:
    """Whether every (x) node's children mention pairwise disjoint sets of variables."""
    vs = variables(circuit)
    return all(
        sum(len(vs[c]) for c in n.children) == len(vs[n])
        for n in circuit.nodes()
        if n.is_op("times")
    )


def _support(root: Node, columns: dict[Variable, np.ndarray], worlds: int) -> np.ndarray:
    """The worlds where ``root`` may be non-zero: a leaf ``p[true]`` only where p is true,
    ``p[false]`` only where p is false, a zero constant nowhere; negations, unreified atoms and
    transformations that are not indicators anywhere (an over-approximation)."""
    everywhere = np.ones(worlds, dtype=bool)
    value: dict[Node, np.ndarray] = {}
    for n in postorder([root]):
        if (v := variable(n)) is not None:
            out = columns[v] if n.arg.rvar else ~columns[v]
        elif n.kind is Kind.CONST:
            out = np.full(worlds, bool(n.arg != get_algebra(n.structure).zero))
        elif n.kind is Kind.ATOM and n.structure == "bool" and isinstance(n.arg.rvar, bool):
            out = np.full(worlds, n.arg.rvar)
        elif n.is_op("plus"):
            out = np.logical_or.reduce([value[c] for c in n.children])
        elif n.is_op("times"):
            out = np.logical_and.reduce([value[c] for c in n.children])
        elif n.kind is Kind.TRANSFORM and get_transformation(n.arg, n.structure).indicator:
            out = value[n.children[0]]  # maps zero to zero and non-zero to non-zero
        else:
            out = everywhere
        value[n] = out
    return value[root]


def is_deterministic(circuit: Circuit, max_vars: int = 16) -> bool | None:
    """Whether no two children of a (+) node are non-zero in the same world (None: unknown).

    Decided per (+) node by enumerating the worlds of its variables (see :func:`_support`);
    a node with more than ``max_vars`` variables makes the answer unknown unless another node
    is found non-deterministic.
    """
    vs = variables(circuit)
    result: bool | None = True
    for n in circuit.nodes():
        if not n.is_op("plus"):
            continue
        keys = sorted(vs[n], key=_order)
        if len(keys) > max_vars:
            result = None
            continue
        worlds = 2 ** len(keys)
        columns = {k: ((np.arange(worlds) >> i) & 1).astype(bool) for i, k in enumerate(keys)}
        count = sum(_support(c, columns, worlds).astype(int) for c in n.children)
        if np.any(count > 1):
            return False
    return result


# --- smoothing ------------------------------------------------------------------------------


def smooth(circuit: Circuit) -> Circuit:
    """``circuit`` with every child of a (+) node multiplied by ``v[true] (+) v[false]`` for each
    variable v it misses (see the module docstring for when that preserves the value).

    The sums are built in the structure where the variable's leaves live and transformed into
    the (+) node's structure when that differs; hash-consing shares them between nodes.
    Smoothing a smooth circuit returns the same roots.
    """
    vs = variables(circuit)
    homes: dict[Variable, set[str]] = {}
    for n in circuit.nodes():
        if (v := variable(n)) is not None:
            homes.setdefault(v, set()).add(n.structure)

    def term(v: Variable, structure: str) -> Node:
        home = structure if structure in homes[v] else sorted(homes[v])[0]
        s = atom(v[0], v[1], home, True) + atom(v[0], v[1], home, False)
        return s if home == structure else transform(s, structure)

    new: dict[Node, Node] = {}
    for n in circuit.nodes():
        children = [new[c] for c in n.children]
        if n.is_op("plus"):
            children = [
                apply("times", nc, *(term(v, n.structure) for v in sorted(missing, key=_order)))
                if (missing := vs[n] - vs[c])
                else nc
                for c, nc in zip(n.children, children, strict=True)
            ]
        new[n] = n.with_children(children)
    return Circuit([new[r] for r in circuit.roots], circuit.names)


def smoothing_cost(circuit: Circuit) -> dict[str, int]:
    """How many nodes and edges :func:`smooth` adds to ``circuit``."""
    before, after = circuit.stats(), smooth(circuit).stats()
    return {k: after[k] - before[k] for k in ("nodes", "edges")}


__all__ = [
    "Variable",
    "is_decomposable",
    "is_deterministic",
    "is_smooth",
    "smooth",
    "smoothing_cost",
    "variable",
    "variables",
]
