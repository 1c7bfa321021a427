"""IR nodes' free variables, computed on first use: the definition's values, at any depth."""

from __future__ import annotations

import pytest
from hypothesis import given
from tests.nesy_ir.strategies import formulas, structures

from nesy_ir import Var, atom
from nesy_ir.nodes import Kind, Node


def free_by_definition(n: Node) -> frozenset[str]:
    """An atom's variables (arguments and reification), an aggregation's child's less its own,
    any other node's children's together (recursive: small formulas only)."""
    if n.kind is Kind.ATOM:
        names = {t.name for t in n.arg.args if isinstance(t, Var)}
        return frozenset(names | ({n.arg.rvar.name} if isinstance(n.arg.rvar, Var) else set()))
    below = frozenset().union(*(free_by_definition(c) for c in n.children))
    return below - {n.arg.var} if n.kind is Kind.AGG else below


@given(structures().flatmap(formulas))
def test_free_variables_follow_the_definition(f):
    assert f.free == free_by_definition(f)


@pytest.mark.parametrize("depth", [1, 2_000])
def test_free_variables_of_a_deep_formula_are_computed_without_recursion(depth):
    """A chain deeper than Python's recursion limit (1,000), built without asking for free
    variables, then asked at the top and in the middle."""
    chain = atom("lazy_free_0", (), "bool", Var("L0"))
    nodes = [chain]
    for i in range(1, depth + 1):
        leaf = atom(f"lazy_free_{i}", (), "bool", Var(f"L{i}"))
        chain = Node(Kind.APPLY, "bool", "plus", (chain, leaf))
        nodes.append(chain)
    assert chain.free == {f"L{i}" for i in range(depth + 1)}
    middle = nodes[depth // 2]
    assert middle.free == {f"L{i}" for i in range(depth // 2 + 1)}
