"""The reference evaluator against known answers, and its errors on bad input."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nesy_ir import LabelFunction, Labelling, Model, Var, aggregate, apply, atom, transform
from nesy_ir.circuit import Circuit
from nesy_ir.errors import (
    CircuitError,
    FreeVariableError,
    LabelError,
    StructureMismatchError,
    UnboundVariableError,
    UnknownOperationError,
    UnknownStructureError,
    UnknownTransformationError,
)
from nesy_ir.evaluate import evaluate, evaluate_circuit
from nesy_ir.syntax import parse

ALARM = parse(
    "sum X in bool: sum Y in bool: tau[bool->prob](burglary[X]@bool + earthquake[Y]@bool)"
    " * burglary(V)[X]@prob * earthquake(S)[Y]@prob"
)
ENV = {"V": "v", "S": "s"}
unit = st.floats(0, 1)


@given(p_b=unit, p_e=unit)
def test_alarm_probability(p_b, p_e):
    value = evaluate(ALARM, {"burglary(v)": p_b, "earthquake(s)": p_e}, ENV)
    assert np.isclose(value, p_b + (1 - p_b) * p_e)


def test_batched_labels_give_batched_values():
    p_b, p_e = np.array([0.1, 0.6, 0.9]), np.array([0.5, 0.3, 0.0])
    value = evaluate(ALARM, {"burglary(v)": p_b, "earthquake(s)": p_e}, ENV)
    assert value.shape == (3,)
    assert np.allclose(value, p_b + (1 - p_b) * p_e)


@settings(max_examples=30)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=3),
        min_size=1,
        max_size=5,
    )
)
def test_model_counting_in_real(clauses):
    """sum over assignments of tau[bool->real](CNF) counts the models."""
    xs = [Var(f"X{i}") for i in range(4)]
    lits = [atom("a", (i,), "bool", x) for i, x in enumerate(xs)]
    cnf = apply(
        "times",
        *[
            apply("plus", *[lits[v] if pos else ~lits[v] for v, pos in clause])
            for clause in clauses
        ],
    )
    f = transform(cnf, "real")
    for x in xs:
        if x.name in f.free:
            f = aggregate("sum", x, "bool", f)
    used = sorted({v for clause in clauses for v, _ in clause})
    count = sum(
        all(any(world[used.index(v)] == pos for v, pos in clause) for clause in clauses)
        for world in product((False, True), repeat=len(used))
    )
    assert evaluate(f) == count


@given(p=st.lists(unit, min_size=2, max_size=2))
def test_most_probable_explanation_in_maxprod(p):
    """max over worlds of P(world) for a or b with independent a, b."""
    f = parse(
        "max X in bool: max Y in bool: tau[bool->maxprod](a[X]@bool + b[Y]@bool)"
        " * a[X]@maxprod * b[Y]@maxprod"
    )
    pa, pb = p
    worlds = [pa * pb, pa * (1 - pb), (1 - pa) * pb]  # the satisfying worlds
    assert np.isclose(evaluate(f, {"a": pa, "b": pb}), max(worlds))


@given(a=unit, b=unit)
def test_fuzzy_connectives(a, b):
    labels = {"a": a, "b": b}
    cases = {
        "godel": (max(a, b), min(a, b)),
        "lukasiewicz": (min(1, a + b), max(0, a + b - 1)),
        "product": (a + b - a * b, a * b),
    }
    for s, (disj, conj) in cases.items():
        assert np.isclose(evaluate(parse(f"a@{s} + b@{s}"), labels), disj)
        assert np.isclose(evaluate(parse(f"a@{s} * b@{s}"), labels), conj)
        assert np.isclose(evaluate(parse(f"~a@{s}"), labels), 1 - a)


def test_log_probability_matches_probability():
    f = parse("tau[prob->logprob](a@prob * b@prob + c@prob)")
    labels = {"a": 0.5, "b": 0.4, "c": 0.1}
    assert np.isclose(evaluate(f, labels), np.log(0.5 * 0.4 + 0.1))


def test_regular_variable_aggregation():
    with pytest.raises(StructureMismatchError):
        parse("sum D in {0, 1, 2}: digit(img, D)@prob * weight(D)@real")
    g = parse("sum D in {0, 1, 2}: digit(img, D)@prob * good(D)@prob")
    labels = {
        "digit(img,0)": 0.2,
        "digit(img,1)": 0.5,
        "digit(img,2)": 0.3,
        "good(0)": 1.0,
        "good(1)": 0.0,
        "good(2)": 1.0,
    }
    assert np.isclose(evaluate(g, labels), 0.5)


def test_label_function_and_explicit_false_label():
    fn = LabelFunction("coin", "prob", lambda args, v: 0.9 if v else 0.3, normalised=False)
    f = parse("sum X in bool: coin[X]@prob")
    assert np.isclose(evaluate(f, Labelling(functions=[fn])), 1.2)
    assert np.isclose(evaluate(f, {"coin": 0.9, "coin[false]": 0.3}), 1.2)
    assert np.isclose(evaluate(f, {"coin": 0.9}), 1.0)


def test_model_evaluates_and_compiles():
    model = Model({"alarm": ALARM}, Labelling({"burglary(v)": 0.6, "earthquake(s)": 0.3}))
    assert model.structures() == {"bool", "prob"}
    assert model.transformations() == {("bool", "prob")}
    assert model.domains() == {"X": "bool", "Y": "bool"}
    assert model.inputs() == {"V", "S"}
    circuit = model.circuit()
    assert circuit.names == ("alarm",)
    assert np.isclose(model.evaluate(ENV)["alarm"], 0.72)
    assert np.isclose(evaluate_circuit(circuit, model.labelling, ENV)["alarm"], 0.72)


# --- bad input: a clear error, never a wrong value ------------------------------------------


def test_unknown_structure():
    with pytest.raises(UnknownStructureError, match="unknown structure 'probability'.*prob"):
        atom("a", (), "probability")


def test_unknown_operation_and_aggregator():
    with pytest.raises(UnknownOperationError, match="no aggregator 'avg'.*sum"):
        aggregate("avg", "X", "bool", atom("a", (), "prob", Var("X")))
    with pytest.raises(UnknownOperationError, match="neg takes one operand"):
        apply("neg", atom("a", (), "prob"), atom("b", (), "prob"))


def test_combining_structures_without_transformation():
    with pytest.raises(StructureMismatchError, match="'bool' and 'prob'.*transformation"):
        apply("plus", atom("a", (), "bool"), atom("b", (), "prob"))


def test_aggregating_a_variable_that_is_not_free():
    with pytest.raises(FreeVariableError, match="not a free variable"):
        aggregate("sum", "X", "bool", atom("a", (), "prob", Var("Y")))


def test_undefined_transformation():
    with pytest.raises(UnknownTransformationError, match="'godel' to 'bool'"):
        transform(atom("a", (), "godel"), "bool")


def test_unbound_variable_at_evaluation():
    with pytest.raises(UnboundVariableError, match="unbound variable V in burglary"):
        evaluate(ALARM, {"burglary(v)": 0.6, "earthquake(s)": 0.3})
    with pytest.raises(UnboundVariableError, match="unbound variable X"):
        evaluate(parse("w[X]@prob"), {"w": 0.5})


@pytest.mark.parametrize(
    "value, message",
    [
        (1.3, "1.3, outside the carrier"),
        (float("nan"), "is NaN"),
        (-0.1, "outside the carrier"),
        ([[0.1, 0.2]], r"shape \(1, 2\)"),
        ("high", "not numbers"),
    ],
)
def test_bad_labels(value, message):
    with pytest.raises(LabelError, match=message) as info:
        evaluate(ALARM, {"burglary(v)": value, "earthquake(s)": 0.3}, ENV)
    assert "burglary(v)" in str(info.value)


def test_missing_label_and_batch_mismatch():
    with pytest.raises(LabelError, match=r"no label for atom earthquake\(s\)"):
        evaluate(ALARM, {"burglary(v)": 0.2}, ENV)
    with pytest.raises(LabelError, match="batch size 2.*has 3"):
        evaluate(ALARM, {"burglary(v)": [0.1, 0.2, 0.3], "earthquake(s)": [0.1, 0.2]}, ENV)


def test_boolean_labels_must_be_truth_values():
    with pytest.raises(LabelError, match="not a truth value"):
        evaluate(parse("a@bool"), {"a": 0.5})
    assert evaluate(parse("a@bool + b@bool"), {"a": [0, 1], "b": [0, 0]}).tolist() == [False, True]


def test_constant_outside_carrier():
    from nesy_ir import const

    with pytest.raises(LabelError, match="outside the carrier"):
        const(1.3, "prob")


def test_circuit_rejects_aggregation_and_free_reification():
    with pytest.raises(CircuitError, match="aggregation over X"):
        Circuit(ALARM)
    with pytest.raises(CircuitError, match="free reification variable X"):
        Circuit(parse("w[X]@prob"))
    with pytest.raises(CircuitError, match="2 roots but 1 names"):
        Circuit([parse("a@prob"), parse("b@prob")], ["only"])


def test_label_function_over_tensor_constants():
    """A parametric labelling maps tensor constants (images) to labels, batched."""
    images = {"img0": np.array([[0.1, 0.9], [0.8, 0.2]])}  # batch of 2, P(digit = 0), P(= 1)

    def digit(args, value):
        image, d = args
        return images[image.name][:, d]

    f = parse("sum D in {0, 1}: digit(tensor(img0), D)@prob * even(D)@prob")
    labels = Labelling({"even(0)": 1.0, "even(1)": 0.0}, [LabelFunction("digit", "prob", digit)])
    assert np.allclose(evaluate(f, labels), [0.1, 0.8])
