"""Evidence and conditional queries, as ProbLog writes them (``evidence/1,2``, ``--evidence``).

P(q | e) is checked against enumerating the possible worlds of random programs, against ProbLog's
own answers, and against the classic alarm network worked out by hand; each bad input gets a
clear error with its place.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from tests.nesy_compile.programs import problog
from tests.nesy_compile.test_translate import PROBLOG_SECONDS

from nesy_compile import compile_program
from nesy_compile.examples import shipped
from nesy_compile.ground_program import EvidenceError
from nesy_compile.grounding import brute_force_probabilities, ground
from nesy_compile.program import Evidence, Int, Struct, parse_evidence, parse_program
from nesy_ir.cli import main
from nesy_ir.errors import NesySyntaxError

#: The classic ProbLog alarm: two neighbours, john and mary, both call.
ALARM = """\
person(john).
person(mary).
0.7::burglary.
0.2::earthquake.
0.9::p_alarm1.
0.8::p_alarm2.
0.1::p_alarm3.
alarm :- burglary, earthquake, p_alarm1.
alarm :- burglary, \\+earthquake, p_alarm2.
alarm :- \\+burglary, earthquake, p_alarm3.
0.8::calls(X) :- alarm, person(X).
0.1::calls(X) :- \\+alarm, person(X).
evidence(calls(john), true).
evidence(calls(mary), true).
query(burglary).
query(earthquake).
"""


def conditionals(text: str, semantics: str = "prob") -> dict[str, float]:
    return {k: float(v) for k, v in compile_program(text, semantics).conditionals().items()}


# --- the front end ---------------------------------------------------------------------------
def test_evidence_is_parsed_in_all_of_problogs_forms():
    program = parse_program(
        "0.5::a.\nb(1) :- a.\nevidence(a).\nevidence(b(1), true).\nevidence(\\+ a).\n"
        "evidence(b(1), false).\nquery(a).\n",
        "p.pl",
    )
    assert [(str(e.atom), e.value) for e in program.evidence] == [
        ("a", True),
        ("b(1)", True),
        ("a", False),
        ("b(1)", False),
    ]
    assert [str(e.location) for e in program.evidence] == [f"p.pl:{i}:1" for i in range(3, 7)]
    assert parse_program(str(program)) == program  # printed as evidence(atom,true|false).
    assert parse_evidence("b(1)=false") == Evidence(Struct("b", (Int(1),)), False)
    assert parse_evidence("\\+a").value is False and parse_evidence("a = true").value is True


@pytest.mark.parametrize(
    "statement, words",
    [
        ("evidence(c(X)).", "evidence must be ground: c(X) has the variable(s) X"),
        ("evidence(a, maybe).", "the value of evidence must be true or false, found maybe"),
        ("evidence(a) :- a.", "evidence/1 takes no body"),
        ("0.5::evidence(a).", "evidence/1 is written"),
        ("evidence(1 < 2).", "evidence on the built-in </2"),
        ("evidence(\\+ a, true).", "write evidence(atom, false)"),
    ],
)
def test_malformed_evidence_is_refused_at_its_place(statement, words):
    with pytest.raises(NesySyntaxError) as e:
        parse_program(f"0.5::a.\nquery(a).\n{statement}\n", "p.pl")
    assert (e.value.source, e.value.line) == ("p.pl", 3)
    assert words in str(e.value)


# --- against enumerating the possible worlds -------------------------------------------------
@st.composite
def random_programs(draw):
    """(text, facts, rules, evidence): probabilistic facts f0.., derived atoms d0.. whose rules
    use facts and earlier derived atoms (negation included), evidence on any of them."""
    probability = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.05, 0.95))
    facts = {f"f{i}": round(draw(probability), 3) for i in range(draw(st.integers(2, 5)))}
    rules: dict[str, list[list[tuple[str, bool]]]] = {}
    for i in range(draw(st.integers(1, 4))):
        atoms = [*facts, *rules]
        literal = st.tuples(st.sampled_from(atoms), st.booleans())
        body = st.lists(literal, min_size=1, max_size=3)
        rules[f"d{i}"] = draw(st.lists(body, min_size=1, max_size=3))
    atoms = [*facts, *rules]
    evidence = draw(st.dictionaries(st.sampled_from(atoms), st.booleans(), max_size=3))
    lines = [f"{p}::{f}." for f, p in facts.items()]
    for head, bodies in rules.items():
        for body in bodies:
            literals = ", ".join(a if pos else f"\\+{a}" for a, pos in body)
            lines.append(f"{head} :- {literals}.")
    lines += [f"evidence({a}, {'true' if v else 'false'})." for a, v in evidence.items()]
    lines += [f"query({a})." for a in atoms]
    return "\n".join(lines) + "\n", facts, rules, evidence


def enumerate_worlds(facts, rules, evidence) -> tuple[float, dict[str, float]]:
    """(P(e), {atom: P(atom and e)}) by summing over the 2^n worlds of the facts."""
    given, joint = 0.0, dict.fromkeys([*facts, *rules], 0.0)
    for values in itertools.product([True, False], repeat=len(facts)):
        world = dict(zip(facts, values, strict=True))
        weight = float(np.prod([p if world[f] else 1 - p for f, p in facts.items()]))
        for head, bodies in rules.items():  # rules use earlier atoms only: one pass
            world[head] = any(all(world[a] == pos for a, pos in body) for body in bodies)
        if all(world[a] == v for a, v in evidence.items()):
            given += weight
            for a in joint:
                joint[a] += weight * world[a]
    return given, joint


@settings(max_examples=60, deadline=None)
@given(random_programs())
def test_conditionals_equal_enumerating_the_worlds(case):
    text, facts, rules, evidence = case
    given, joint = enumerate_worlds(facts, rules, evidence)
    if given < 1e-12:  # probability 0, up to rounding
        if given == 0.0:
            with pytest.raises(EvidenceError, match="has probability 0"):
                conditionals(text)
        return
    got = conditionals(text)
    oracle = brute_force_probabilities(ground(parse_program(text)))
    for atom, value in joint.items():
        assert got[atom] == pytest.approx(value / given, abs=1e-9), atom
        assert oracle[(atom, ())] == pytest.approx(value / given, abs=1e-9), atom


def test_without_evidence_conditionals_are_the_probabilities():
    cp = compile_program(shipped("alarm"))
    assert cp.evidence == [] and cp.circuit.names == ("alarm", "calls")
    assert cp.conditionals() == cp.probabilities()
    assert cp.evidence_circuit().names == ("alarm", "calls", "evidence")
    assert cp.joint_root("alarm") == "alarm"


# --- against ProbLog ---------------------------------------------------------------------------
PROBLOG_PROGRAMS = [
    ALARM,
    shipped("alarm") + "evidence(calls).\n",
    shipped("alarm") + "evidence(calls, false).\nevidence(earthquake).\n",
    # an annotated disjunction, negation, evidence false through \+
    "0.2::a; 0.5::b; 0.3::c.\n0.6::d.\ne :- a, d.\ne :- c.\nf :- \\+e, d.\n"
    "evidence(\\+ e).\nquery(a).\nquery(b).\nquery(d).\nquery(f).\n",
    # evidence with arguments, on a derived atom of a recursive predicate
    shipped("reachability") + "evidence(path(a,d)).\nevidence(path(b,e), false).\n",
    # evidence false on an atom nothing derives: it holds in every world
    "0.3::a.\nb(1) :- a.\nevidence(b(2), false).\nquery(a).\nquery(b(1)).\n",
]


@pytest.mark.parametrize("text", PROBLOG_PROGRAMS)
def test_conditionals_equal_problogs(text):
    expected = problog(text)
    got = conditionals(text)
    assert set(got) == set(expected)
    for key, p in expected.items():
        assert got[key] == pytest.approx(p, abs=1e-9), key


@settings(max_examples=15, deadline=None)
@given(random_programs())
def test_random_programs_with_evidence_match_problog(case):
    text, facts, rules, evidence = case
    if enumerate_worlds(facts, rules, evidence)[0] < 1e-9:
        return  # ProbLog: inconsistent evidence; here an EvidenceError (tested above)
    try:
        expected = problog(text, seconds=PROBLOG_SECONDS)
    except TimeoutError:
        reject()  # ProbLog itself cannot answer this one in time: no reference
    got = conditionals(text)
    assert set(got) == set(expected)
    for key, p in expected.items():
        assert got[key] == pytest.approx(p, abs=1e-9), key


def test_the_alarm_with_two_neighbours_calling_by_hand():
    # P(alarm | b, e) = 0.9, P(alarm | b, -e) = 0.8, P(alarm | -b, e) = 0.1, P(alarm | -b, -e) = 0;
    # both call with 0.8^2 = 0.64 given the alarm, 0.1^2 = 0.01 without. So
    #   P(calls | b, e)   = 0.9 * 0.64 + 0.1 * 0.01 = 0.577   x P(b, e)   = 0.14 -> 0.08078
    #   P(calls | b, -e)  = 0.8 * 0.64 + 0.2 * 0.01 = 0.514   x P(b, -e)  = 0.56 -> 0.28784
    #   P(calls | -b, e)  = 0.1 * 0.64 + 0.9 * 0.01 = 0.073   x P(-b, e)  = 0.06 -> 0.00438
    #   P(calls | -b, -e) = 0.01                              x P(-b, -e) = 0.24 -> 0.0024
    # P(evidence) = 0.3754, P(burglary | evidence) = (0.08078 + 0.28784) / 0.3754 = 0.98193926...
    # and P(earthquake | evidence) = (0.08078 + 0.00438) / 0.3754 = 0.22685136...
    cp = compile_program(ALARM)
    assert float(cp.probabilities()["evidence"]) == pytest.approx(0.3754, abs=1e-12)
    got = {k: float(v) for k, v in cp.conditionals().items()}
    assert got["burglary"] == pytest.approx(0.36862 / 0.3754, abs=1e-12)
    assert got["earthquake"] == pytest.approx(0.08516 / 0.3754, abs=1e-12)
    assert cp.circuit.names == (
        "burglary",
        "earthquake",
        "evidence",
        "burglary & evidence",
        "earthquake & evidence",
    )
    assert cp.joint_root("burglary") == "burglary & evidence"


@pytest.mark.parametrize("backend", ["torch", "jax", "klay"])
def test_every_backend_computes_the_conditionals_as_a_ratio(backend):
    from nesy_ir.backends import available_backends, get_backend

    if backend not in available_backends():
        pytest.skip(f"backend {backend} is not installed")
    cp = compile_program(ALARM)
    values = get_backend(backend).evaluate_circuit(cp.circuit, cp.labelling)
    given = float(np.asarray(values[cp.evidence_root]))
    for query, expected in cp.conditionals().items():
        got = float(np.asarray(values[cp.joint_root(query)])) / given
        assert got == pytest.approx(float(expected), rel=1e-6), query


def test_in_logprob_the_conditionals_are_a_difference():
    from nesy_ir import Circuit, transform

    cp = compile_program(ALARM)
    roots = [transform(r, "logprob") for r in cp.circuit.roots]
    log = replace(cp, circuit=Circuit(roots, cp.circuit.names))
    for query, value in log.conditionals().items():
        assert float(np.exp(value)) == pytest.approx(float(cp.conditionals()[query]), rel=1e-12)


# --- bad input: one test each ----------------------------------------------------------------
def test_evidence_on_an_undefined_predicate_is_refused():
    with pytest.raises(EvidenceError) as e:
        compile_program("0.3::a.\nquery(a).\nevidence(alrm).\n", source="p.pl")
    assert str(e.value).startswith("p.pl:3:1: evidence on alrm, but alrm/0 has no clause")


def test_evidence_true_on_an_atom_nothing_derives_is_refused():
    with pytest.raises(EvidenceError) as e:
        compile_program("0.3::a.\nb(1) :- a.\nquery(a).\nevidence(b(2)).\n", source="p.pl")
    assert str(e.value).startswith("p.pl:4:1: evidence(b(2), true) cannot hold")


def test_contradictory_evidence_is_refused():
    with pytest.raises(EvidenceError) as e:
        compile_program("0.3::a.\nquery(a).\nevidence(a).\nevidence(a, false).\n", source="p.pl")
    assert str(e.value) == (
        "p.pl:4:1: contradictory evidence: a is false here and true at p.pl:3:1"
    )
    program = parse_program("0.3::a.\nquery(a).\nevidence(a).\nevidence(a).\n")
    assert len(ground(program).evidence) == 1  # the same evidence twice is once


def test_evidence_of_probability_zero_is_an_error_not_a_nan():
    text = "0.3::a.\n0.4::b.\nc :- a, b.\nquery(a).\nevidence(c, true).\nevidence(b, false).\n"
    cp = compile_program(text)
    with pytest.raises(EvidenceError) as e:
        cp.conditionals()
    message = "the evidence evidence(c, true), evidence(b, false) has probability 0"
    assert str(e.value) == message


def test_evidence_of_probability_zero_names_the_batch_elements():
    text = "nn(net, [X], Y, [0, 1]) :: digit(X, Y).\none :- digit(tensor(a), 1).\n"
    text += "evidence(one).\nquery(digit(tensor(a), 1)).\n"
    cp = compile_program(text)
    labels = {"digit(tensor(a),0)": np.array([0.5, 1.0, 0.2]), "digit(tensor(a),1)": None}
    labels["digit(tensor(a),1)"] = 1.0 - labels["digit(tensor(a),0)"]
    with pytest.raises(EvidenceError, match="has probability 0 for the batch element"):
        cp.conditionals(labels)
    labels = {k: v[[0, 2]] for k, v in labels.items()}
    np.testing.assert_allclose(cp.conditionals(labels)["digit(tensor(a),1)"], [1.0, 1.0])


@pytest.mark.parametrize("semantics", ["godel", "product", "lukasiewicz"])
def test_evidence_under_a_fuzzy_semantics_is_refused(semantics):
    with pytest.raises(EvidenceError) as e:
        compile_program("0.3::a.\nquery(a).\nevidence(a).\n", semantics, source="p.pl")
    assert str(e.value).startswith(f"p.pl:3:1: evidence(a, true) under the {semantics} semantics")
    assert "defined for probabilities (prob) only" in str(e.value)


# --- nesy query --evidence -------------------------------------------------------------------
def test_nesy_query_conditions_on_command_line_evidence(capsys):
    assert main(["query", "--example", "alarm", "--evidence", "calls"]) == 0
    out = capsys.readouterr().out
    # P(alarm | calls) = 0.72 * 0.91 / 0.6832: calls without a prank needs the alarm heard
    assert out == "given calls (probability 0.6832):\nalarm: 0.959016\ncalls: 1\n"
    assert main(["query", "--example", "alarm", "--evidence", "calls=false", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["evidence"] == [{"atom": "calls", "value": False, "location": "--evidence:1:1"}]
    assert result["evidence_probability"] == pytest.approx(1 - 0.6832)
    assert result["values"]["alarm"] == pytest.approx(0.72 * 0.09 / (1 - 0.6832))


def test_nesy_query_adds_command_line_evidence_to_the_programs(tmp_path, capsys):
    path = tmp_path / "alarm.pl"
    path.write_text(shipped("alarm") + "evidence(hears_alarm).\n")
    assert main(["query", str(path), "--evidence", "\\+prank", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [e["atom"] for e in result["evidence"]] == ["hears_alarm", "prank"]
    assert result["values"] == pytest.approx(
        problog(shipped("alarm") + "evidence(hears_alarm).\nevidence(\\+prank).\n")
    )
    assert main(["query", str(path), "--evidence", "calls(x)"]) == 2
    assert "--evidence:1:1: evidence on calls(x), but calls/1 has no clause" in (
        capsys.readouterr().err
    )
    assert main(["query", str(path), "--evidence", "prank", "--semantics", "godel"]) == 2
    assert "under the godel semantics" in capsys.readouterr().err


def _needs(name: str):
    inference = pytest.importorskip("nesy_ir.inference")
    if not hasattr(inference, name):
        pytest.skip(f"nesy_ir.inference has no {name} yet")


def test_nesy_query_marginals_given_the_evidence(capsys):
    _needs("posterior_marginals")
    args = ["query", "--example", "alarm", "--evidence", "calls", "--json", "--marginals"]
    assert main(args) == 0
    marginals = json.loads(capsys.readouterr().out)["marginals"]
    expected = problog(
        shipped("alarm").replace("query(alarm).\nquery(calls).\n", "")
        + "evidence(calls).\nquery(burglary).\nquery(earthquake).\nquery(hears_alarm).\n"
        "query(prank).\n"
    )
    assert marginals == pytest.approx(expected)


def test_nesy_query_mpe_given_the_evidence(capsys):
    _needs("mpe")
    assert main(["query", "--example", "alarm", "--evidence", "calls", "--json", "--mpe"]) == 0
    mpe = json.loads(capsys.readouterr().out)["mpe"]
    # the most probable world with a call: burglary, no earthquake, heard, no prank
    assert mpe["assignment"] == {
        "burglary": True,
        "earthquake": False,
        "hears_alarm": True,
        "prank": False,
    }
    assert mpe["probability"] == pytest.approx(0.6 * 0.7 * 0.9 * 0.9)


def test_nesy_query_samples_given_the_evidence(capsys):
    _needs("sample")
    args = ["query", "--example", "alarm", "--evidence", "\\+calls", "--json", "--samples", "50"]
    assert main([*args, "--seed", "3"]) == 0
    samples = json.loads(capsys.readouterr().out)["samples"]
    assert all(len(v) == 50 for v in samples.values())
    for i in range(50):  # no world without a call has a prank, or the alarm heard
        world = {k: v[i] for k, v in samples.items()}
        assert not world["prank"]
        assert not ((world["burglary"] or world["earthquake"]) and world["hears_alarm"])
    assert main([*args, "--seed", "3"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == samples  # the seed decides
