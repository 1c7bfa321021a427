"""Random ground circuits and labels for the backend conformance tests (torch, jax, numpy).

A circuit is a random DAG in one built-in structure: leaves are the atoms ``x0..x5`` (plain, or
reified ``[true]`` / ``[false]``) and constants; internal nodes are plus / times / neg of earlier
nodes (shared, so a DAG, not a tree) and transformations of Boolean or probabilistic sub-circuits.
Labels are drawn in the interior of the carrier (gradients exist there) or, with
``boundary=True``, include the carrier's ends (0 and 1 for probabilities).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from nesy_ir import Circuit, Node, apply, atom, const, transform
from nesy_ir.algebras import BUILTIN_ALGEBRAS
from nesy_ir.registry import get_algebra, transformations

ATOMS = tuple(f"x{i}" for i in range(6))


def structures() -> st.SearchStrategy[str]:
    return st.sampled_from([a.name for a in BUILTIN_ALGEBRAS])


def _leaf(structure: str, draw, prefix: str = "") -> Node:
    name = prefix + draw(st.sampled_from(ATOMS))
    kind = draw(st.sampled_from(["plain", "true", "false", "const"]))
    if kind == "const":
        carrier = get_algebra(structure).carrier
        if carrier.boolean:
            return const(draw(st.booleans()), structure)
        low, high = max(carrier.low, -2.0), min(carrier.high, 2.0)
        return const(draw(st.sampled_from([low, high, (low + high) / 2])), structure)
    rvar = {"plain": None, "true": True, "false": False}[kind]
    if rvar is False and get_algebra(structure).neg is None:
        rvar = True
    return atom(name, (), structure, rvar)


@st.composite
def circuits(draw, structure: str | None = None, max_nodes: int = 14) -> Circuit:
    """A random multi-root circuit in ``structure`` (drawn when None)."""
    structure = structure or draw(structures())
    algebra = get_algebra(structure)
    nodes = [_leaf(structure, draw) for _ in range(draw(st.integers(2, 5)))]
    sources = sorted(s for s, t in transformations() if t == structure)
    for _ in range(draw(st.integers(1, max_nodes))):
        op = draw(st.sampled_from(["plus", "times", "neg", "transform"]))
        if op == "neg" and algebra.neg is not None:
            nodes.append(apply("neg", draw(st.sampled_from(nodes))))
        elif op == "transform" and sources:
            source = draw(st.sampled_from(sources))
            inner = [_leaf(source, draw, f"{source}_") for _ in range(2)]
            child = apply(draw(st.sampled_from(["plus", "times"])), *inner)
            nodes.append(transform(child, structure))
        else:
            role = "plus" if op == "neg" else ("times" if op == "transform" else op)
            k = draw(st.integers(1, 4))
            children = [draw(st.sampled_from(nodes)) for _ in range(k)]
            nodes.append(apply(role, *children))
    internal = [n for n in nodes if n.children] or nodes
    roots = draw(st.lists(st.sampled_from(internal), min_size=1, max_size=3))
    return Circuit(roots, [f"r{i}" for i in range(len(roots))])


def labels_for(circuit: Circuit, seed: int, batch: int = 4, boundary: bool = False) -> dict:
    """Batched labels (B,) for every atom of ``circuit``, keyed by atom name (one structure each:
    the atoms under a transformation are named after its source)."""
    from nesy_ir.traverse import atoms

    rng = np.random.default_rng(seed)
    out = {}
    for node in sorted(atoms(circuit.roots), key=str):
        carrier = get_algebra(node.structure).carrier
        if carrier.boolean:
            values = rng.integers(0, 2, batch).astype(bool)
        else:
            low, high = max(carrier.low, -3.0), min(carrier.high, 3.0)
            values = rng.uniform(low + 0.05 * (high - low), high - 0.05 * (high - low), batch)
            if boundary:
                values[: batch // 2] = rng.choice([low, high], batch // 2)
        out[node.arg.predicate] = values
    return out
