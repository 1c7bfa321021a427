"""Determinism, decomposability and the small-formula Shannon compiler, against truth tables."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from nesy_ir import Var, apply, atom, parse
from nesy_ir.properties import (
    bool_keys,
    decomposable,
    deterministic,
    is_ddnnf,
    mutually_exclusive,
    truth_tables,
)
from nesy_ir.rewrite.boolean import shannon
from nesy_ir.traverse import size

LITS = [atom("a", (), "bool", Var(f"X{i}")) for i in range(4)] + [atom("b", (), "bool")]


def bool_formulas():
    def extend(children):
        return st.one_of(
            children.map(lambda c: apply("neg", c)),
            st.lists(children, min_size=2, max_size=3).map(lambda cs: apply("plus", *cs)),
            st.lists(children, min_size=2, max_size=3).map(lambda cs: apply("times", *cs)),
        )

    return st.recursive(st.sampled_from(LITS), extend, max_leaves=10)


@given(bool_formulas())
def test_shannon_gives_an_equivalent_ddnnf(f):
    compiled = shannon(f)
    keys = bool_keys([f])
    if compiled.kind.value == "const":
        expected = truth_tables([f], keys)[0]
        assert np.all(expected == bool(compiled.arg))
        return
    assert is_ddnnf(compiled)
    before, after = truth_tables([f, compiled], keys)
    assert np.array_equal(before, after)


@given(bool_formulas(), bool_formulas())
def test_mutual_exclusion_matches_the_truth_table(f, g):
    keys = bool_keys([f, g])
    tf, tg = truth_tables([f, g], keys)
    assert mutually_exclusive(f, g) == (not np.any(tf & tg))


def test_unknown_beyond_the_enumeration_budget():
    f = parse("a[X0]@bool * a[X1]@bool")
    g = parse("a[X2]@bool * a[X3]@bool")
    assert mutually_exclusive(f, g, max_vars=2) is None
    assert mutually_exclusive(f, g, max_vars=4) is False
    assert deterministic(parse("a[X0]@bool + ~a[X0]@bool * b@bool"), max_vars=0) is True


def test_decomposability():
    assert decomposable(parse("a[X0]@bool * a[X1]@bool"))
    assert not decomposable(parse("a[X0]@bool * (a[X0]@bool + b@bool)"))
    assert not is_ddnnf(parse("a[X0]@bool + a[X1]@bool"))


def test_common_subexpressions_are_shared():
    """Hash-consing: building the same sub-formula twice gives one node, counted once."""
    left = parse("(a@prob + b@prob) * c@prob")
    right = parse("(a@prob + b@prob) * d@prob")
    assert left.children[0] is right.children[0]
    nodes, edges = size([left, right])
    assert (nodes, edges) == (7, 6)  # a, b, c, d, a+b, two products
