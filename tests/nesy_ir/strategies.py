"""Hypothesis strategies for random well-formed formulas, shared by the nesy-ir tests.

Import them as ``from tests.nesy_ir.strategies import formulas`` (pytest runs from the repository
root with ``python -m pytest``, which puts the root on ``sys.path``).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from nesy_ir import Labelling, Node, TensorConst, Var, aggregate, apply, atom, const, transform
from nesy_ir.algebra import Algebra, Carrier
from nesy_ir.algebras import BUILTIN_ALGEBRAS
from nesy_ir.laws import SEMIRING
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
    specials = [
        v
        for v in (low, high, 0.0, 0.5, 1.0, 0.25)
        if low <= v <= high and (abs(v) < 1e300 or math.isinf(v))
    ]
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


# --- formulas for serialisation and export round trips ------------------------------------

SER_RVARS = ("X", "Y", "Z")
DOMAIN = (0, 1, "two")  # the constants the regular variable N ranges over


def _ser_leaves() -> st.SearchStrategy:
    rvar = st.sampled_from(SER_RVARS)
    return st.one_of(
        rvar.map(lambda x: transform(atom("a", (), "bool", Var(x)), "prob")),
        rvar.map(lambda x: atom("w", ("c",), "prob", Var(x))),
        st.tuples(rvar, st.integers(-3, 3)).map(
            lambda t: atom("digit", (TensorConst("img"), t[1], Var("N")), "prob", Var(t[0]))
        ),
        st.sampled_from([True, False, None]).map(lambda r: atom("e", ("k", 7), "prob", r)),
        st.floats(0.0, 1.0).map(lambda v: const(v, "prob")),
    )


def _ser_aggregated(node):
    """``node`` summed over one of its free variables (N over DOMAIN, the others over 'bool')."""
    if not node.free:
        return st.just(node)
    return st.sampled_from(sorted(node.free)).map(
        lambda v: aggregate("sum", v, DOMAIN if v == "N" else "bool", node)
    )


def _ser_extend(children):
    operands = st.lists(children, min_size=2, max_size=3)
    return st.one_of(
        operands.map(lambda cs: apply("plus", *cs)),
        operands.map(lambda cs: apply("times", *cs)),
        children.map(lambda c: apply("neg", c)),
        children.flatmap(_ser_aggregated),
    )


def serialisable_prob_formulas(max_leaves: int = 10) -> st.SearchStrategy:
    """Random formulas in the probability semiring with atoms, constants and aggregations."""
    return st.recursive(_ser_leaves(), _ser_extend, max_leaves=max_leaves)


def _logprob_formulas() -> st.SearchStrategy:
    """Prob formulas moved to logprob and combined with constants, -inf among them."""
    constants = st.sampled_from([-math.inf, 0.0, -1.5]).map(lambda v: const(v, "logprob"))
    return st.tuples(serialisable_prob_formulas(6), constants).map(
        lambda t: transform(t[0], "logprob") + t[1]
    )


def serialisable_formulas() -> st.SearchStrategy:
    """Formulas exercising every field a serialiser must keep: tensor constants, integer and
    string arguments, regular-variable domains, constant reifications, infinities."""
    return st.one_of(serialisable_prob_formulas(), _logprob_formulas())


# --- a user-defined algebra ---------------------------------------------------------------


def tropical(**changes) -> Algebra:
    """The min-plus (tropical) semiring on [0, inf]."""
    fields = dict(
        name="tropical",
        carrier=Carrier("[0, inf]", low=0.0, high=np.inf),
        zero=np.inf,
        one=0.0,
        plus=np.minimum,
        times=np.add,
        neg=None,
        aggregators={"min": "plus", "sum": "times"},
        laws=SEMIRING | {"plus.idempotent", "plus.absorbing"},
        description="min-plus semiring (shortest paths)",
    )
    return Algebra(**{**fields, **changes})


def random_labels(structure: str, seed: int, batch: int = 5) -> Labelling:
    """Batched labels for the atoms the strategies use: p, q(c), w(c1) in ``structure``, b."""
    rng = np.random.default_rng(seed)
    carrier = get_algebra(structure).carrier

    def values():
        if carrier.boolean:
            return rng.integers(0, 2, batch).astype(bool)
        return rng.uniform(max(carrier.low, -3.0), min(carrier.high, 3.0), batch)

    return Labelling(
        {"p": values(), "q(c)": values(), "w(c1)": values(), "b": rng.integers(0, 2, batch)}
    )
