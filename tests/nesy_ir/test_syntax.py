"""The text syntax: round trips, the alarm example, and errors with their line and column."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.nesy_ir.strategies import closed_formulas, formulas, structures

from nesy_ir import TensorConst, Var, aggregate, apply, atom, const, transform
from nesy_ir.algebras import BUILTIN_ALGEBRAS
from nesy_ir.errors import (
    FreeVariableError,
    LabelError,
    NesyError,
    NesySyntaxError,
    StructureMismatchError,
    UnknownOperationError,
    UnknownStructureError,
    UnknownTransformationError,
)
from nesy_ir.syntax import parse, to_text

NAMES = [a.name for a in BUILTIN_ALGEBRAS]


def assert_round_trip(f):
    text = to_text(f)
    assert "\n" not in text
    assert parse(text) is f
    assert to_text(parse(text)) == text


@pytest.mark.parametrize("structure", NAMES)
@given(data=st.data())
def test_round_trip_random_formulas(structure, data):
    assert_round_trip(data.draw(formulas(structure)))


@given(structures().flatmap(closed_formulas))
def test_round_trip_closed_formulas(f):
    assert not f.free
    assert_round_trip(f)


def test_str_uses_the_syntax():
    f = atom("a", (), "prob") + const(0.5, "prob")
    assert str(f) == "a@prob + 0.5@prob"


# --- the alarm example (source 003, eq. 10) --------------------------------------------------

ALARM = """
# burglary/earthquake alarm, source 003 eq. 10
sum X in bool: sum Y in bool:
    tau[bool->prob](burglary[X]@bool + earthquake[Y]@bool)
    * burglary(V)[X]@prob * earthquake(S)[Y]@prob
"""


def alarm_by_hand():
    X, Y, V, S = Var("X"), Var("Y"), Var("V"), Var("S")
    alarm = transform(atom("burglary", (), "bool", X) + atom("earthquake", (), "bool", Y), "prob")
    body = apply(
        "times", alarm, atom("burglary", (V,), "prob", X), atom("earthquake", (S,), "prob", Y)
    )
    return aggregate("sum", "X", "bool", aggregate("sum", "Y", "bool", body))


def test_alarm_parses_to_the_constructed_node():
    f = parse(ALARM)
    assert f is alarm_by_hand()
    assert to_text(f) == (
        "sum X in bool: sum Y in bool: tau[bool->prob](burglary[X]@bool + earthquake[Y]@bool)"
        " * burglary(V)[X]@prob * earthquake(S)[Y]@prob"
    )
    assert f.free == {"V", "S"}


def test_fuzzy_alarm():
    f = parse("burglary(V)@godel + earthquake(S)@godel")
    assert f is atom("burglary", (Var("V"),), "godel") + atom("earthquake", (Var("S"),), "godel")


# --- printing details -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "alarm@bool",
        "true@bool",
        "false@bool",
        "0.6@prob",
        "1.0@prob",
        "-2.5@real",
        "-inf@logprob",
        "-0.5@real",
        "1e-20@prob",
        "q(tensor(img0), -3, c, X)[true]@bool",
        "q(c)[false]@prob",
        "a@prob + b@prob + c@prob",
        "(a@prob + b@prob) + c@prob",
        "a@prob + (b@prob + c@prob)",
        "a@prob * b@prob + c@prob * d@prob",
        "(a@prob * b@prob) * c@prob",
        "a@prob * (b@prob + c@prob)",
        "~(a@prob + b@prob)",
        "~(a@prob * b@prob)",
        "~~a@bool",
        "~-1.0@real",
        "~(exists X in bool: a[X]@bool)",
        "a@prob * (sum X in bool: w[X]@prob) + 1.0@prob",
        "(sum X in bool: w[X]@prob) + 1.0@prob",
        "sum X in {a, b, 1, -2}: w(X)@prob",
        "max X in bool: prod Y in bool: w[X]@maxprod * v[Y]@maxprod",
        "forall X in bool: exists Y in bool: a[X]@godel + b[Y]@godel",
        "tau[prob->logprob](tau[bool->prob](~a@bool * b@bool))",
        "sum X in {bool, in, tensor, true}: in(X, tensor, bool)@prob",
    ],
)
def test_canonical_texts_print_back_unchanged(text):
    f = parse(text)
    assert to_text(f) == text
    assert parse(to_text(f)) is f


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("a@prob+b@prob", "a@prob + b@prob"),
        ("1@prob", "1.0@prob"),
        ("1@bool", "true@bool"),
        ("0.001@prob", "0.001@prob"),
        ("1e-3@prob", "0.001@prob"),
        ("((a@prob))", "a@prob"),
        (
            "a@prob * sum X in bool: w[X]@prob + b@prob",
            "a@prob * (sum X in bool: w[X]@prob + b@prob)",
        ),
        ("~ exists X in bool: a[X]@bool", "~(exists X in bool: a[X]@bool)"),
        ("max X in bool: a[X]@godel", "exists X in bool: a[X]@godel"),
        ("plus X in bool: a[X]@prob", "sum X in bool: a[X]@prob"),
        ("a @ prob # a comment\n * b@prob", "a@prob * b@prob"),
    ],
)
def test_texts_are_read_into_their_canonical_form(text, canonical):
    f = parse(text)
    assert to_text(f) == canonical
    assert parse(canonical) is f


def test_terms_and_domains():
    f = parse("sum N in {1, 2, -3}: digit(tensor(img0), N, zero)[true]@prob")
    a = f.children[0]
    assert a.arg.args == (TensorConst("img0"), Var("N"), "zero")
    assert a.arg.rvar is True
    assert f.arg.domain == (1, 2, -3)
    assert f.arg.role == "plus"


def test_one_nary_node_per_chain():
    f = parse("a@real + b@real + c@real * d@real * e@real")
    assert f.is_op("plus") and len(f.children) == 3
    assert f.children[2].is_op("times") and len(f.children[2].children) == 3


# --- errors -------------------------------------------------------------------------------------


def located(exc_info, line, column, source="<formula>"):
    message = str(exc_info.value)
    assert message.startswith(f"{source}:{line}:{column}: "), message
    return message


@pytest.mark.parametrize(
    "text, line, column, message",
    [
        ("(a@prob\n  + b@prob", 2, 11, "expected ')'"),
        ("a@prob +\n    $b@prob", 2, 5, "unexpected character '$'"),
        ("burglary + a@bool", 1, 10, "missing '@structure' after atom burglary"),
        ("a@prob b@prob", 1, 8, "after the formula"),
        ("", 1, 1, "expected a formula"),
        ("a@", 1, 3, "structure name"),
        ("sum X bool: a[X]@prob", 1, 7, "expected 'in'"),
        ("sum X in {}: a(X)@prob", 1, 11, "expected a constant"),
        ("sum X in bool a[X]@prob", 1, 15, "expected ':'"),
        ("a[c]@prob", 1, 3, "expected a variable, true or false"),
        ("a(1.5)@prob", 1, 3, "expected a constant"),
        ("-true@bool", 1, 2, "expected a number"),
        ("tau[bool prob](a@bool)", 1, 10, "expected '->'"),
        ("a()@prob", 1, 3, "expected a constant"),
    ],
)
def test_syntax_errors(text, line, column, message):
    with pytest.raises(NesySyntaxError) as e:
        parse(text)
    assert (e.value.line, e.value.column) == (line, column)
    assert isinstance(e.value, NesyError)
    first_line = str(e.value).splitlines()[0]
    assert first_line.startswith(f"<formula>:{line}:{column}: ") and message in first_line


def test_syntax_error_shows_the_line_and_a_caret():
    with pytest.raises(NesySyntaxError) as e:
        parse("a@prob +\n    $b@prob", source="alarm.dl")
    assert str(e.value) == "alarm.dl:2:5: unexpected character '$'\n      $b@prob\n      ^"


@pytest.mark.parametrize(
    "text, error, line, column, fragment",
    [
        ("a@bool + b@prob", StructureMismatchError, 1, 8, "'bool' and 'prob'"),
        ("a@prob +\n  b@prob * c@bool", StructureMismatchError, 2, 10, "'bool' and 'prob'"),
        ("a@prob + b@prob + c@bool", StructureMismatchError, 1, 17, "'bool' and 'prob'"),
        ("tau[bool->prob](a@prob)", StructureMismatchError, 1, 1, "structure 'prob'"),
        ("x@prob +\n  tau[prob->bool](a@prob)", UnknownTransformationError, 2, 3, "to 'bool'"),
        ("tau[bool->foo](a@bool)", UnknownStructureError, 1, 11, "'foo'"),
        ("a@prob + b@foo", UnknownStructureError, 1, 10, "'foo'"),
        ("1.3@prob", LabelError, 1, 1, "outside the carrier"),
        ("a@prob * -0.5@prob", LabelError, 1, 10, "outside the carrier"),
        ("0.5@nope", UnknownStructureError, 1, 1, "'nope'"),
        ("sum X in bool: a@prob", FreeVariableError, 1, 1, "X"),
        ("a@prob * (\n  count X in bool: a[X]@prob)", UnknownOperationError, 2, 3, "'count'"),
        ("exists X in bool: a[X]@prob", UnknownOperationError, 1, 1, "exists"),
    ],
)
def test_semantic_errors_keep_their_class_and_gain_a_position(text, error, line, column, fragment):
    with pytest.raises(error) as e:
        parse(text)
    assert type(e.value) is error
    message = located(e, line, column)
    assert fragment in message
    assert (e.value.line, e.value.column) == (line, column)


def test_semantic_error_names_the_source():
    with pytest.raises(FreeVariableError) as e:
        parse("\n\nsum X in bool: a@prob", source="rules.dl")
    located(e, 3, 1, "rules.dl")
