"""Built-in algebras: every declared law holds, every undeclared one fails; carriers, aggregators.

Finite random values stay within [-BOUND, BOUND] and away from the subnormal range: the laws are
identities of real numbers, which floats only approximate where nothing overflows or underflows
(e.g. logprob's negation loses its argument below about -708, where exp underflows, and the real
semiring's sums overflow near 1e308). Infinite carrier ends are boundary values only where they
are the structure's zero or one (logprob's -inf): the real semiring's carrier admits +-inf, where
inf * 0 and inf - inf are NaN.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nesy_ir.algebra import Algebra, Carrier
from nesy_ir.algebras import BUILTIN_ALGEBRAS
from nesy_ir.errors import UnknownOperationError
from nesy_ir.laws import LAWS, NEEDS_NEGATION

BOUND = 100.0
TINY = 1e-100


def boundary_values(alg: Algebra) -> list:
    """0, 1 and the carrier's ends, where they are (meaningful) carrier values.

    Ends beyond +-BOUND (the largest floats of ``real``) overflow any sum: left out, like inf.
    """
    c = alg.carrier
    if c.boolean:
        return [False, True]
    ends = [v for v in (c.low, c.high) if abs(v) <= BOUND or v in (alg.zero, alg.one)]
    return [v for v in (0.0, 1.0, *ends) if c.low <= v <= c.high]


def carrier_values(alg: Algebra) -> st.SearchStrategy:
    """A random value of ``alg``'s carrier, boundary values likely."""
    c = alg.carrier
    if c.boolean:
        return st.booleans()
    floats = st.floats(max(c.low, -BOUND), min(c.high, BOUND), allow_nan=False)
    floats = floats.filter(lambda x: x == 0 or abs(x) >= TINY)
    return st.one_of(st.sampled_from(boundary_values(alg)), floats)


GRID = (-2.0, -0.7, -0.3, 0.0, 0.1, 0.3, 0.5, 0.7, 1.0, 2.0)


def grid(alg: Algebra) -> list:
    """A fixed set of carrier values: the boundary values and GRID within the carrier."""
    if alg.carrier.boolean:
        return [False, True]
    c = alg.carrier
    return sorted({*boundary_values(alg), *(v for v in GRID if c.low <= v <= c.high)})


def grid_triples(alg: Algebra) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three arrays that together run through every triple of grid values."""
    triples = np.array(list(itertools.product(grid(alg), repeat=3)))
    return tuple(alg.carrier.coerce(column) for column in triples.T)


def applicable(alg: Algebra, law: str) -> bool:
    return alg.neg is not None or law not in NEEDS_NEGATION


DECLARED = [
    pytest.param(a, law, id=f"{a.name}-{law}") for a in BUILTIN_ALGEBRAS for law in sorted(a.laws)
]
UNDECLARED = [
    pytest.param(a, law, id=f"{a.name}-{law}")
    for a in BUILTIN_ALGEBRAS
    for law in sorted(LAWS)
    if law not in a.laws and applicable(a, law)
]


# --- laws --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("alg", "law"), DECLARED)
@given(data=st.data())
def test_declared_law_holds(alg, law, data):
    a, b, c = (alg.carrier.coerce(data.draw(carrier_values(alg), label=x)) for x in "abc")
    with np.errstate(invalid="raise"):  # a NaN anywhere is a failure, not a pass
        ok = LAWS[law](alg, a, b, c)
    assert np.all(ok), f"{law} fails in {alg.name} at a={a}, b={b}, c={c}"


@pytest.mark.parametrize(("alg", "law"), DECLARED)
def test_declared_law_holds_on_the_grid(alg, law):
    a, b, c = grid_triples(alg)
    with np.errstate(invalid="raise"):
        ok = np.asarray(LAWS[law](alg, a, b, c))
    assert ok.all(), f"{law} fails in {alg.name} at {(a[~ok][0], b[~ok][0], c[~ok][0])}"


@pytest.mark.parametrize(("alg", "law"), UNDECLARED)
def test_undeclared_law_has_a_counterexample(alg, law):
    a, b, c = grid_triples(alg)
    with np.errstate(invalid="raise"):  # the counterexample must be an honest value, not NaN
        ok = np.asarray(LAWS[law](alg, a, b, c))
    assert ok.shape == a.shape
    assert not ok.all(), f"{alg.name} satisfies {law} on the grid: declare it"


def test_negation_laws_need_a_negation():
    with pytest.raises(ValueError, match="negation"):
        Algebra(
            "noneg", Carrier("[0, 1]", low=0.0, high=1.0), 0.0, 1.0, np.maximum, np.minimum,
            None, {}, frozenset({"de_morgan"}),
        )  # fmt: skip


# --- carriers ----------------------------------------------------------------------------------

ALG = {a.name: a for a in BUILTIN_ALGEBRAS}


@pytest.mark.parametrize(
    ("name", "value", "reported"),
    [
        ("prob", np.nan, "NaN"),
        ("logprob", np.nan, "NaN"),
        ("real", np.nan, "NaN"),
        ("prob", 1.3, "1.3"),
        ("prob", -0.1, "-0.1"),
        ("logprob", 0.5, "0.5"),
        ("godel", 2.0, "2.0"),
    ],
)
def test_violation_reports_the_bad_value(name, value, reported):
    carrier = ALG[name].carrier
    message = carrier.violation(np.array([0.0 if name != "logprob" else -1.0, value]))
    assert message is not None and reported in message
    if reported != "NaN":
        assert carrier.name in message


@pytest.mark.parametrize("alg", BUILTIN_ALGEBRAS, ids=lambda a: a.name)
def test_violation_is_none_for_carrier_values(alg):
    values = alg.carrier.coerce(grid(alg))
    assert alg.carrier.violation(values) is None
    assert alg.carrier.violation(alg.carrier.coerce([alg.zero, alg.one])) is None


@pytest.mark.parametrize("alg", BUILTIN_ALGEBRAS, ids=lambda a: a.name)
def test_sample_stays_in_the_carrier(alg):
    values = alg.carrier.sample(np.random.default_rng(0), 64)
    assert values.shape == (64,)
    assert alg.carrier.violation(values) is None


@pytest.mark.parametrize(
    ("bad", "named"), [(2, "2.0"), (0.5, "0.5"), (-1, "-1.0"), ([0, 1, 3], "3.0"), (np.nan, "nan")]
)
def test_boolean_coerce_rejects_non_truth_values(bad, named):
    with pytest.raises(ValueError, match="truth value") as info:
        ALG["bool"].carrier.coerce(bad)
    assert named in str(info.value)


def test_boolean_coerce_accepts_truth_values():
    out = ALG["bool"].carrier.coerce([0, 1, 1.0, 0.0])
    assert out.dtype == np.bool_ and out.tolist() == [False, True, True, False]
    assert ALG["bool"].carrier.coerce(np.array([True])).dtype == np.bool_


def test_numeric_coerce_rejects_strings_and_gives_floats():
    with pytest.raises(ValueError, match="not numbers"):
        ALG["prob"].carrier.coerce(["a"])
    assert ALG["prob"].carrier.coerce([0, 1]).dtype == np.float64


# --- aggregators -------------------------------------------------------------------------------

REFERENCE = {"max": np.max, "min": np.min, "sum": np.sum, "prod": np.prod}


@pytest.mark.parametrize("alg", BUILTIN_ALGEBRAS, ids=lambda a: a.name)
def test_aggregators_fold_plus_or_times(alg):
    assert alg.aggregators
    for name, role in alg.aggregators.items():
        assert role in ("plus", "times")
        assert alg.aggregator_role(name) == role
    for role in ("plus", "times"):
        assert alg.aggregators[alg.aggregator_name(role)] == role


@pytest.mark.parametrize("alg", BUILTIN_ALGEBRAS, ids=lambda a: a.name)
def test_aggregators_fold_what_their_name_says(alg):
    values = list(alg.carrier.coerce(grid(alg)))
    decode = np.exp if alg.name == "logprob" else (lambda x: np.asarray(x, dtype=float))
    for name, role in alg.aggregators.items():
        folded = decode(alg.reduce(role, values))
        if name in REFERENCE:
            assert np.isclose(folded, REFERENCE[name](decode(values))), (alg.name, name)
        elif alg.carrier.boolean:
            assert bool(folded) == {"exists": any, "forall": all}[name](values)
        assert alg.reduce(role, []) == alg.neutral(role)


@pytest.mark.parametrize("alg", BUILTIN_ALGEBRAS, ids=lambda a: a.name)
def test_unknown_aggregator_names_the_known_ones(alg):
    with pytest.raises(UnknownOperationError) as info:
        alg.aggregator_role("nope")
    message = str(info.value)
    assert "'nope'" in message and alg.name in message
    assert all(name in message for name in alg.aggregators)


def test_unknown_operation_and_bad_aggregator_role():
    with pytest.raises(UnknownOperationError, match="'neg'"):
        Algebra(
            "n", ALG["prob"].carrier, 0.0, 1.0, np.add, np.multiply, None, {}, frozenset()
        ).operation("neg")
    with pytest.raises(ValueError, match="'neg'"):
        Algebra(
            "n", ALG["prob"].carrier, 0.0, 1.0, np.add, np.multiply, None, {"x": "neg"}, frozenset()
        )
