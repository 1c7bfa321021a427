"""Built-in transformations: each declared homomorphism holds under its condition, indicators.

Random values are drawn as in test_algebras.py: finite values in [-100, 100] and away from the
subnormal range, where floats follow the identities (log(a * b) = log a + log b fails only once
a * b underflows).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nesy_ir.errors import UnknownStructureError, UnknownTransformationError
from nesy_ir.registry import get_algebra, get_transformation
from nesy_ir.transformation import Transformation
from nesy_ir.transformations import BUILTIN_TRANSFORMATIONS


def carrier_values(name: str) -> st.SearchStrategy:
    """A random value of the carrier of structure ``name``, boundary values likely."""
    alg = get_algebra(name)
    c = alg.carrier
    if c.boolean:
        return st.booleans()
    ends = [v for v in (c.low, c.high) if math.isfinite(v) or v in (alg.zero, alg.one)]
    specials = [v for v in (0.0, 1.0, *ends) if c.low <= v <= c.high]
    floats = st.floats(max(c.low, -100.0), min(c.high, 100.0), allow_nan=False)
    return st.one_of(st.sampled_from(specials), floats.filter(lambda x: x == 0 or abs(x) >= 1e-100))


def pushed_through(t, role, a, b):
    """(tau(a op b), tau(a) op' tau(b)) for a binary role, (tau(-a), -'tau(a)) for neg."""
    src, tgt = get_algebra(t.source), get_algebra(t.target)
    a, b = src.carrier.coerce(a), src.carrier.coerce(b)
    if role == "neg":
        return t.fn(src.neg(a)), tgt.neg(t.fn(a))
    return t.fn(src.operation(role)(a, b)), tgt.operation(role)(t.fn(a), t.fn(b))


def commutes(t, role, a, b) -> bool:
    with np.errstate(invalid="raise"):
        left, right = pushed_through(t, role, a, b)
    return bool(np.all(np.isclose(left, right, rtol=1e-9, atol=1e-9)))  # equal infinities too


def entries(condition: str) -> list:
    return [
        pytest.param(t, role, id=f"{t.name}-{role}")
        for t in BUILTIN_TRANSFORMATIONS
        for role, cond in t.homomorphism.items()
        if cond == condition
    ]


@pytest.mark.parametrize(("t", "role"), entries("always"))
@given(data=st.data())
def test_always_homomorphism_holds(t, role, data):
    a, b = data.draw(carrier_values(t.source), "a"), data.draw(carrier_values(t.source), "b")
    assert commutes(t, role, a, b), pushed_through(t, role, a, b)


@pytest.mark.parametrize(("t", "role"), entries("always"))
def test_always_homomorphism_holds_on_the_grid(t, role):
    src = get_algebra(t.source)
    if src.carrier.boolean:
        values = [False, True]
    else:
        values = [
            v
            for v in (0.0, 0.1, 0.5, 0.9, 1.0, -0.5, -3.0)
            if src.carrier.violation(np.array(v)) is None
        ]
        values += [v for v in (src.zero, src.one) if v not in values]
    for a, b in itertools.product(values, repeat=2):
        assert commutes(t, role, a, b), (a, b, pushed_through(t, role, a, b))


@pytest.mark.parametrize(("t", "role"), entries("deterministic"))
def test_deterministic_homomorphism_holds_on_exclusive_values(t, role):
    assert get_algebra(t.source).carrier.boolean, "determinism is only tested for Boolean sources"
    for a, b in itertools.product([False, True], repeat=2):
        assert commutes(t, role, a, b) == (not (a and b)), (a, b, pushed_through(t, role, a, b))


def test_determinism_is_needed_for_bool_to_prob_plus():
    t = get_transformation("bool", "prob")
    assert t.homomorphism["plus"] == "deterministic"
    left, right = pushed_through(t, "plus", True, True)
    assert left == 1.0 and right == 2.0  # tau(true or true) = 1, tau(true) + tau(true) = 2


def test_every_builtin_transformation_is_checked():
    checked = {p.values[0].name for p in entries("always") + entries("deterministic")}
    assert checked == {t.name for t in BUILTIN_TRANSFORMATIONS}
    conditions = {c for t in BUILTIN_TRANSFORMATIONS for c in t.homomorphism.values()}
    assert conditions <= {"always", "deterministic"}, "add a test for the new condition"


@pytest.mark.parametrize("t", BUILTIN_TRANSFORMATIONS, ids=lambda t: t.name)
@given(data=st.data())
def test_maps_into_the_target_carrier(t, data):
    value = data.draw(carrier_values(t.source))
    target = get_algebra(t.target).carrier
    assert (
        target.violation(target.coerce(t.fn(get_algebra(t.source).carrier.coerce(value)))) is None
    )


@pytest.mark.parametrize(
    "t", [t for t in BUILTIN_TRANSFORMATIONS if t.indicator], ids=lambda t: t.name
)
def test_indicator_maps_zero_and_one(t):
    src, tgt = get_algebra(t.source), get_algebra(t.target)
    assert np.asarray(t.fn(src.carrier.coerce(src.zero))) == tgt.zero
    assert np.asarray(t.fn(src.carrier.coerce(src.one))) == tgt.one


@pytest.mark.parametrize("t", BUILTIN_TRANSFORMATIONS, ids=lambda t: t.name)
def test_registered_under_its_structures(t):
    assert get_transformation(t.source, t.target) is t
    assert t.name == f"{t.source}->{t.target}"


def test_undefined_pair_names_both_structures():
    with pytest.raises(UnknownTransformationError) as info:
        get_transformation("godel", "bool")
    assert "'godel'" in str(info.value) and "'bool'" in str(info.value)


def test_unknown_structure_is_not_a_missing_transformation():
    with pytest.raises(UnknownStructureError, match="'nope'"):
        get_transformation("bool", "nope")


def test_bad_homomorphism_entry_is_rejected():
    with pytest.raises(ValueError, match="'sometimes'"):
        Transformation("bool", "prob", float, {"plus": "sometimes"})
    with pytest.raises(ValueError, match="'minus'"):
        Transformation("bool", "prob", float, {"minus": "always"})
