"""Hypothesis strategies for random well-formed formulas, shared by the nesy-ir tests.

Import them as ``from tests.nesy_ir.strategies import formulas`` (pytest runs from the repository
root with ``python -m pytest``, which puts the root on ``sys.path``).
"""

from __future__ import annotations

from hypothesis import strategies as st

from nesy_ir import Node, Var, aggregate, apply, atom, const, transform
from nesy_ir.algebras import BUILTIN_ALGEBRAS
from nesy_ir.registry import get_algebra, transformations

#: The reification variables the random formulas use.
RVARS = tuple(f"X{i}" for i in range(4))


def structures() -> st.SearchStrategy[str]:
    """The name of a built-in algebraic structure."""
    return st.sampled_from([a.name for a in BUILTIN_ALGEBRAS])


def constants(structure: str) -> st.SearchStrategy[Node]:
    """A constant of ``structure``: a truth value, or a float in its carrier (boundaries likely)."""
    carrier = get_algebra(structure).carrier
    if carrier.boolean:
        return st.booleans().map(lambda v: const(v, structure))
    low, high = carrier.low, carrier.high
    specials = [v for v in (low, high, 0.0, 0.5, 1.0, 0.25) if low <= v <= high]
    # Finite values stay within +-700: beyond, exp underflows and log(1 - exp(a)) loses the
    # precision that the laws (involutive negation of logprob) are checked to.
    floats = st.floats(min_value=max(low, -700.0), max_value=min(high, 700.0), allow_nan=False)
    values = st.one_of(st.sampled_from(specials), floats)
    return values.filter(lambda v: low <= v <= high).map(lambda v: const(v, structure))


def _atoms(structure: str) -> st.SearchStrategy[Node]:
    rvars = st.sampled_from(RVARS).map(Var)
    return st.one_of(
        st.just(atom("p", (), structure)),
        st.just(atom("q", ("c",), structure)),
        rvars.map(lambda x: atom("w", ("c1",), structure, x)),
    )


def _bool_formulas() -> st.SearchStrategy[Node]:
    leaves = st.one_of(
        st.sampled_from(RVARS).map(lambda x: atom("a", (), "bool", Var(x))),
        st.just(atom("b", (), "bool")),
    )

    def extend(children):
        return st.one_of(
            children.map(lambda c: apply("neg", c)),
            st.lists(children, min_size=2, max_size=3).map(lambda cs: apply("plus", *cs)),
            st.lists(children, min_size=2, max_size=3).map(lambda cs: apply("times", *cs)),
        )

    return st.recursive(leaves, extend, max_leaves=4)


def _aggregated(node: Node) -> st.SearchStrategy[Node]:
    """``node`` aggregated over one of its free variables with the (+) aggregator."""
    if not node.free:
        return st.just(node)
    name = get_algebra(node.structure).aggregator_name("plus")
    return st.sampled_from(sorted(node.free)).map(lambda v: aggregate(name, v, "bool", node))


def formulas(structure: str = "prob", max_leaves: int = 8) -> st.SearchStrategy[Node]:
    """A random well-formed formula in ``structure`` (free reification variables among X0..X3)."""
    algebra = get_algebra(structure)
    leaves = [constants(structure), _atoms(structure)]
    if structure != "bool" and ("bool", structure) in transformations():
        leaves.append(_bool_formulas().map(lambda f: transform(f, structure)))

    def extend(children):
        options = [
            st.lists(children, min_size=2, max_size=3).map(lambda cs: apply("plus", *cs)),
            st.lists(children, min_size=2, max_size=3).map(lambda cs: apply("times", *cs)),
            children.flatmap(_aggregated),
        ]
        if algebra.neg is not None:
            options.append(children.map(lambda c: apply("neg", c)))
        return st.one_of(options)

    return st.recursive(st.one_of(leaves), extend, max_leaves=max_leaves)


def close(node: Node) -> Node:
    """``node`` with every free variable aggregated at the top by the (+) aggregator."""
    name = get_algebra(node.structure).aggregator_name("plus")
    for var in sorted(node.free):
        node = aggregate(name, var, "bool", node)
    return node


def closed_formulas(structure: str = "prob", max_leaves: int = 8) -> st.SearchStrategy[Node]:
    """A random formula in ``structure`` with no free variables."""
    return formulas(structure, max_leaves).map(close)
