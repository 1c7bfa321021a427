"""The linear-sum compiler: the values of grounding + SDD where both run, brute force elsewhere."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.nesy_compile.test_translate import digit_labels

from nesy_compile import compile_program
from nesy_compile.examples import (
    mnist_addition_standard,
    mnist_addition_standard_query,
    mnist_addition_standard_sum,
)
from nesy_compile.ground_program import atom_text
from nesy_compile.linear_sum import Summand, compile_linear_sum
from nesy_ir.errors import NesyError
from nesy_ir.terms import TensorConst


def images(n: int) -> list[str]:
    return [f"{side}{i}" for side in "ab" for i in range(n)]


def sum_law(a_digits, b_digits) -> np.ndarray:
    """The law of the sum of two numbers (digit laws, most significant first): the convolution
    of the numbers' laws, each the outer product of its digits' laws."""
    laws = [functools.reduce(lambda p, d: np.outer(p, d).ravel(), n) for n in (a_digits, b_digits)]
    return np.convolve(*laws)


@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("semantics", ["prob", "godel"])
def test_standard_addition_equals_the_grounded_program(n, semantics):
    grounded = compile_program(mnist_addition_standard(n), semantics, "right")
    summed = compile_linear_sum(
        mnist_addition_standard_sum(n), mnist_addition_standard_query(n), semantics
    )
    assert summed.queries == grounded.queries
    assert summed.neural == grounded.neural
    labels = digit_labels(images(n), np.random.default_rng(n))
    expected, got = grounded.probabilities(labels), summed.probabilities(labels)
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert float(got[key]) == pytest.approx(float(value), abs=1e-12), key


def test_four_digit_addition_matches_the_sum_of_independent_numbers():
    """N = 4, beyond grounding: P(sum = z) is the convolution of the two numbers' laws."""
    n, rng = 4, np.random.default_rng(4)
    labels = digit_labels(images(n), rng)
    summed = compile_linear_sum(
        mnist_addition_standard_sum(n), mnist_addition_standard_query(n), "prob"
    )
    digit = {t: np.array([labels[f"digit(tensor({t}),{d})"] for d in range(10)]) for t in images(n)}
    expected = sum_law(*([digit[f"{side}{i}"] for i in range(n)] for side in "ab"))
    values = summed.probabilities(labels)
    query = mnist_addition_standard_query(n)
    got = np.array([float(values[atom_text(query(z))]) for z in range(len(expected))])
    assert len(values) == len(expected) == 19999
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-300)
    assert summed.stats["circuit_nodes"] < 100_000  # not the 10^8 proofs


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-3, 3), st.lists(st.integers(-2, 4), min_size=1, max_size=3, unique=True)
        ),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from(["prob", "godel"]),
    st.integers(0, 2**32 - 1),
)
def test_random_linear_sums_match_enumeration(spec, semantics, seed):
    rng = np.random.default_rng(seed)
    summands = [
        Summand("x", TensorConst(f"t{k}"), tuple(values), c) for k, (c, values) in enumerate(spec)
    ]
    labels, law = {}, []
    for s in summands:
        p = rng.dirichlet(np.ones(len(s.values)))
        law.append(dict(zip(s.values, p, strict=True)))
        labels.update({f"x(tensor({s.term.name}),{v})": q for v, q in law[-1].items()})
    expected: dict[int, float] = {}
    for world in itertools.product(*(s.values for s in summands)):
        total = sum(s.coefficient * v for s, v in zip(summands, world, strict=True))
        weights = [law[k][v] for k, v in enumerate(world)]
        if semantics == "prob":
            expected[total] = expected.get(total, 0.0) + float(np.prod(weights))
        else:  # Goedel: the best proof's weakest atom
            expected[total] = max(expected.get(total, 0.0), min(weights))
    compiled = compile_linear_sum(summands, lambda z: ("total", (z,)), semantics)
    got = compiled.probabilities(labels)
    assert [q[1][0] for q in compiled.queries] == sorted(expected)
    for z, value in expected.items():
        assert float(got[f"total({z})"]) == pytest.approx(value, abs=1e-12)


@pytest.mark.parametrize(
    ("summands", "semantics", "message"),
    [
        ([Summand("x", TensorConst("t"), (0, 1), 1)], "product", "depends on the formula"),
        ([], "prob", "at least one summand"),
        ([Summand("x", TensorConst("t"), (0, 0), 1)], "prob", "must be distinct"),
        ([Summand("x", TensorConst("t"), (0, 1), 1)] * 2, "prob", "one summand only"),
    ],
)
def test_bad_linear_sums_are_clear_errors(summands, semantics, message):
    with pytest.raises(NesyError, match=message):
        compile_linear_sum(summands, lambda z: ("total", (z,)), semantics)
