"""JSON serialisation: round trips to the identical nodes, and every way a document can be wrong."""

from __future__ import annotations

import json
import math
import os
import random
import tempfile
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.nesy_ir.strategies import serialisable_formulas as formulas
from tests.nesy_ir.strategies import tropical as tropical_algebra

from nesy_ir import Circuit, TensorConst, Var, aggregate, apply, atom, const, registry, transform
from nesy_ir.errors import (
    CircuitError,
    FormatVersionError,
    FreeVariableError,
    LabelError,
    NesyError,
    StructureMismatchError,
    UnknownOperationError,
    UnknownStructureError,
    UnknownTransformationError,
)
from nesy_ir.serialize import (
    FORMAT,
    FORMAT_VERSION,
    SerializationError,
    dumps,
    from_json,
    load,
    loads,
    save,
    to_json,
)
from nesy_ir.traverse import postorder


def _circuit_leaves() -> st.SearchStrategy:
    return st.one_of(
        st.tuples(st.integers(0, 3), st.sampled_from([True, False, None])).map(
            lambda t: atom("w", (t[0],), "prob", t[1])
        ),
        st.just(transform(atom("a", (TensorConst("x"),)), "prob")),
        st.floats(0.0, 1.0).map(lambda v: const(v, "prob")),
    )


def circuits() -> st.SearchStrategy:
    """Multi-root circuits (no aggregation, no free reification variable) with root names."""

    def extend(children):
        operands = st.lists(children, min_size=2, max_size=3)
        return st.one_of(
            operands.map(lambda cs: apply("plus", *cs)),
            operands.map(lambda cs: apply("times", *cs)),
            children.map(lambda c: apply("neg", c)),
        )

    nodes = st.recursive(_circuit_leaves(), extend, max_leaves=8)
    roots = st.lists(nodes, min_size=1, max_size=3)
    return roots.map(lambda rs: Circuit(rs, [f"query{i}" for i in range(len(rs))]))


def _no_nan_or_infinity(text: str):
    """JSON that strict parsers accept: no NaN/Infinity tokens."""

    def refuse(token):
        raise AssertionError(f"non-standard JSON constant {token}")

    return json.loads(text, parse_constant=refuse)


# --- round trips ---------------------------------------------------------------------------------


@given(formulas())
def test_round_trip_node_is_identical(f):
    text = dumps(f)
    assert loads(text) is f
    assert from_json(to_json(f)) is f
    assert from_json(json.loads(json.dumps(to_json(f)))) is f
    doc = _no_nan_or_infinity(text)
    assert doc == to_json(f)
    assert doc["type"] == "node" and len(doc["nodes"]) == len(postorder([f]))


@given(st.lists(formulas(), max_size=4), st.booleans())
def test_round_trip_list_of_nodes(fs, as_tuple):
    back = loads(dumps(tuple(fs) if as_tuple else fs))
    assert isinstance(back, list) and len(back) == len(fs)
    assert all(a is b for a, b in zip(back, fs, strict=True))


@given(circuits())
def test_round_trip_circuit(c):
    back = loads(dumps(c))
    assert isinstance(back, Circuit)
    assert back == c and back.names == c.names
    assert all(a is b for a, b in zip(back.roots, c.roots, strict=True))


@given(st.one_of(formulas(), circuits(), st.lists(formulas(), max_size=3)))
def test_round_trip_file(obj):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.json")
        save(obj, path)
        back = load(path)
        assert os.listdir(folder) == ["model.json"]
    if isinstance(obj, list):
        assert all(a is b for a, b in zip(back, obj, strict=True))
    else:
        assert back is obj if not isinstance(obj, Circuit) else back == obj


@given(formulas(), st.randoms(use_true_random=False))
def test_nodes_may_be_listed_in_any_order(f, rng):
    doc = to_json(f)
    rng.shuffle(doc["nodes"])
    assert from_json(doc) is f


def test_document_layout():
    x, n = Var("X"), Var("N")
    body = atom("digit", (TensorConst("img"), 3, "c", n), "prob", x) * const(0.25, "prob")
    f = aggregate("sum", "N", ("a", 1), aggregate("sum", "X", "bool", body))
    g = transform(atom("p", (), "prob", True), "logprob") + const(-math.inf, "logprob")
    doc = to_json([f, g])
    assert (doc["format"], doc["version"], doc["type"]) == (FORMAT, FORMAT_VERSION, "nodes")
    assert "names" not in doc
    nodes = doc["nodes"]
    assert [e["id"] for e in nodes] == list(range(len(nodes)))
    assert all(c < e["id"] for e in nodes for c in e.get("children", []))  # children first
    by_kind = {}
    for e in nodes:
        by_kind.setdefault(e["kind"], []).append(e)
    digit = next(e for e in by_kind["atom"] if e["predicate"] == "digit")
    assert digit["args"] == [{"tensor": "img"}, 3, "c", {"var": "N"}]
    assert digit["rvar"] == {"var": "X"}
    assert next(e for e in by_kind["atom"] if e["predicate"] == "p")["rvar"] is True
    assert {e["value"] for e in by_kind["const"]} == {0.25, "-inf"}
    assert [(e["role"], e["var"], e["domain"]) for e in by_kind["agg"]] == [
        ("plus", "X", "bool"),
        ("plus", "N", ["a", 1]),
    ]
    assert by_kind["transform"][0]["source"] == "prob"
    assert doc["roots"] == [nodes.index(by_kind["agg"][1]), len(nodes) - 1]
    assert loads(dumps([f, g])) == [f, g]


def test_boolean_constants_and_the_empty_list():
    for value in (True, False):
        f = const(value, "bool")
        assert to_json(f)["nodes"][0]["value"] is value
        assert loads(dumps(f)) is f
    assert loads(dumps([])) == []
    assert loads(dumps(Circuit([]))) == Circuit([])


def test_deep_graphs_do_not_overflow_the_stack():
    f = atom("p", (), "prob")
    for i in range(6_000):
        f = apply("neg", f) if i % 2 else f * atom("q", (i,), "prob")
    assert loads(dumps(f)) is f
    doc = to_json(f)
    doc["nodes"].reverse()  # parents first: the loader must sort them without recursion
    assert from_json(doc) is f


@contextmanager
def tropical():
    """The tropical semiring (its zero is +inf), registered for the duration."""
    algebra = tropical_algebra()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry, "_ALGEBRAS", {**registry._ALGEBRAS, "tropical": algebra})
        yield


def test_positive_and_negative_infinity():
    with tropical():
        f = const(math.inf, "tropical") + atom("d", ("a", "b"), "tropical")
        text = dumps(f)
        assert '"value": "inf"' in text
        assert loads(text) is f
        _no_nan_or_infinity(text)
    g = const(-math.inf, "logprob")
    assert to_json(g)["nodes"][0]["value"] == "-inf"
    assert loads(dumps(g)) is g


def test_save_keeps_the_mode_of_an_existing_file(tmp_path):
    path = tmp_path / "f.json"
    path.write_text("old")
    path.chmod(0o600)
    save(atom("p"), path)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert load(path) is atom("p")


# --- errors --------------------------------------------------------------------------------------


def doc_of(entries, roots, kind="node", **extra):
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "type": kind,
        "roots": roots,
        "nodes": entries,
        **extra,
    }


P = {"kind": "atom", "structure": "prob", "predicate": "p", "args": [], "rvar": None}


def with_id(entry, i, **changes):
    return {**entry, "id": i, **changes}


def test_newer_version_is_refused_with_both_versions_named(tmp_path):
    doc = to_json(atom("p"))
    doc["version"] = FORMAT_VERSION + 1
    with pytest.raises(FormatVersionError) as info:
        from_json(doc)
    message = str(info.value)
    assert f"version {FORMAT_VERSION + 1}" in message and f"version {FORMAT_VERSION}" in message
    assert "upgrade nesy-ir" in message
    path = tmp_path / "new.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatVersionError, match="new.json"):
        load(path)


@pytest.mark.parametrize("version", [0, -1, "1", 1.0, True, None])
def test_bad_version_is_a_serialization_error(version):
    doc = to_json(atom("p"))
    doc["version"] = version
    with pytest.raises(SerializationError, match="version"):
        from_json(doc)


@pytest.mark.parametrize("doc", [{"format": "other", "version": 1}, {"version": 1}, [], "x", None])
def test_other_format_is_refused(doc):
    with pytest.raises(SerializationError, match="not a nesy-ir document"):
        from_json(doc)


def test_serialization_error_is_a_nesy_error_and_a_value_error():
    assert issubclass(SerializationError, NesyError) and issubclass(SerializationError, ValueError)


@pytest.mark.parametrize("text", ["", "{", "[1, 2", '{"format": "nesy-ir", }', b"\xff\xfe"])
def test_text_that_is_not_json(text):
    with pytest.raises(SerializationError, match="not valid JSON"):
        loads(text)


def test_cycle_is_a_circuit_error_naming_it(tmp_path):
    # 3 = neg(5), 5 = plus(3, 0): listed in an arbitrary order, as in a hand-edited file
    entries = [
        {"id": 5, "kind": "apply", "structure": "prob", "role": "plus", "children": [3, 0]},
        with_id(P, 0),
        {"id": 3, "kind": "apply", "structure": "prob", "role": "neg", "children": [5]},
    ]
    with pytest.raises(CircuitError, match=r"cyclic circuit: node 5 -> 3 -> 5"):
        from_json(doc_of(entries, [3]))
    path = tmp_path / "cyclic.json"
    path.write_text(json.dumps(doc_of(entries[1:] + entries[:1], [3])))
    with pytest.raises(CircuitError, match=r"cyclic\.json: cyclic circuit: node 3 -> 5 -> 3"):
        load(path)


def test_self_loop_is_a_cycle():
    entries = [{"id": 1, "kind": "apply", "structure": "prob", "role": "neg", "children": [1]}]
    with pytest.raises(CircuitError, match="node 1 -> 1"):
        from_json(doc_of(entries, [1]))


def test_missing_child_is_named(tmp_path):
    entries = [
        with_id(P, 0),
        {"id": 1, "kind": "apply", "structure": "prob", "role": "plus", "children": [0, 7]},
    ]
    with pytest.raises(SerializationError, match="node 1: child 7 does not exist"):
        from_json(doc_of(entries, [1]))
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc_of(entries, [1])))
    with pytest.raises(SerializationError, match=r"broken\.json: node 1: child 7"):
        load(path)


def test_missing_root_is_named():
    with pytest.raises(SerializationError, match="root 4 does not exist"):
        from_json(doc_of([with_id(P, 0)], [4]))


def test_unknown_structure_is_named_with_the_node():
    entries = [with_id(P, 0), with_id(P, 1, structure="nosuch", predicate="q")]
    with pytest.raises(UnknownStructureError, match=r"node 1: unknown structure 'nosuch'"):
        from_json(doc_of(entries, [0, 1], "nodes"))


def test_unknown_structure_of_an_operation():
    plus = {"id": 2, "kind": "apply", "structure": "nosuch", "role": "plus", "children": [0, 1]}
    entries = [with_id(P, 0), with_id(P, 1, predicate="q"), plus]
    with pytest.raises(UnknownStructureError, match="node 2: "):
        from_json(doc_of(entries, [2]))


BOOL_A = {"kind": "atom", "structure": "bool", "predicate": "a", "args": [], "rvar": None}


@pytest.mark.parametrize(
    "entries, error, match",
    [
        # operands of two structures
        (
            [
                with_id(P, 0),
                with_id(BOOL_A, 1),
                {"id": 2, "kind": "apply", "structure": "prob", "role": "plus", "children": [0, 1]},
            ],
            StructureMismatchError,
            r"node 2: cannot combine",
        ),
        # declared structure other than its children's
        (
            [
                with_id(P, 0),
                with_id(P, 1, predicate="q"),
                {"id": 2, "kind": "apply", "structure": "bool", "role": "plus", "children": [0, 1]},
            ],
            StructureMismatchError,
            r"node 2: declared of structure 'bool'",
        ),
        # transformation whose source is not its child's structure
        (
            [
                with_id(P, 0),
                {
                    "id": 1,
                    "kind": "transform",
                    "structure": "logprob",
                    "source": "bool",
                    "children": [0],
                },
            ],
            StructureMismatchError,
            "node 1: transformation",
        ),
        (
            [
                with_id(P, 0),
                {
                    "id": 1,
                    "kind": "transform",
                    "structure": "bool",
                    "source": "prob",
                    "children": [0],
                },
            ],
            UnknownTransformationError,
            "node 1: no transf",
        ),
        (
            [
                with_id(P, 0),
                {"id": 1, "kind": "apply", "structure": "prob", "role": "max", "children": [0, 0]},
            ],
            UnknownOperationError,
            "node 1: .*no operation",
        ),
        (
            [
                with_id(P, 0),
                {
                    "id": 1,
                    "kind": "agg",
                    "structure": "prob",
                    "role": "sum",
                    "var": "X",
                    "domain": "bool",
                    "children": [0],
                },
            ],
            FreeVariableError,
            "node 1: ",
        ),
        (
            [
                with_id(P, 0, rvar={"var": "X"}),
                {
                    "id": 1,
                    "kind": "agg",
                    "structure": "prob",
                    "role": "exists",
                    "var": "X",
                    "domain": "bool",
                    "children": [0],
                },
            ],
            UnknownOperationError,
            "node 1: .*no aggregator 'exists'",
        ),
        ([{"id": 0, "kind": "const", "structure": "prob", "value": 1.5}], LabelError, "node 0: "),
        ([{"id": 0, "kind": "const", "structure": "logprob", "value": "inf"}], LabelError, "node"),
    ],
)
def test_semantic_errors_keep_their_class_and_name_the_node(entries, error, match):
    with pytest.raises(error, match=match):
        from_json(doc_of(entries, [entries[-1]["id"]]))


@pytest.mark.parametrize(
    "entry, match",
    [
        ({"kind": "atom", "predicate": "p", "args": []}, "node 0: missing field 'structure'"),
        ({**P, "kind": "lambda"}, "node 0: 'kind' must be one of atom, const"),
        ({k: v for k, v in P.items() if k != "kind"}, "node 0: missing field 'kind'"),
        ({**P, "predicate": ""}, "node 0: 'predicate' must be a non-empty string"),
        ({k: v for k, v in P.items() if k != "args"}, "node 0: missing field 'args'"),
        ({**P, "args": "c"}, "node 0: 'args' must be a list"),
        ({**P, "args": [1.5]}, "node 0: bad argument 1.5"),
        ({**P, "args": [True]}, "node 0: bad argument True"),
        ({**P, "args": [None]}, "node 0: bad argument None"),
        ({**P, "args": [{"var": "X", "tensor": "t"}]}, "node 0: bad argument"),
        ({**P, "args": [{"var": ""}]}, "node 0: bad argument"),
        ({**P, "rvar": {"tensor": "t"}}, "node 0: bad reification"),
        ({**P, "rvar": "X"}, "node 0: bad reification 'X'"),
        ({**P, "children": [0]}, "node 0: a atom node takes no children"),
        ({"kind": "const", "structure": "prob"}, "node 0: missing field 'value'"),
        ({"kind": "const", "structure": "prob", "value": "0.5"}, "node 0: 'value' must be a num"),
        ({"kind": "const", "structure": "prob", "value": True}, "node 0: 'value' must be a number"),
        ({"kind": "const", "structure": "bool", "value": 1}, "node 0: 'value' must be true or f"),
        ({"kind": "const", "structure": "prob", "value": 10**400}, "node 0: int too large"),
        ({"kind": "apply", "structure": "prob", "role": "plus"}, "node 0: a apply node takes some"),
    ],
)
def test_malformed_node(entry, match):
    with pytest.raises(SerializationError, match=match):
        from_json(doc_of([{"id": 0, **entry}], [0]))


@pytest.mark.parametrize(
    "agg, match",
    [
        ({"domain": "nat"}, "node 1: 'domain' must be 'bool' or a list"),
        ({"domain": [0.5]}, "node 1: bad argument 0.5"),
        ({"domain": []}, "node 1: the domain of N is empty"),
        ({"var": 3}, "node 1: 'var' must be a non-empty string"),
        ({"children": [0, 0]}, "node 1: a agg node takes one children"),
        ({"role": None}, "node 1: 'role' must be"),
    ],
)
def test_malformed_aggregation(agg, match):
    atom_n = with_id(P, 0, args=[{"var": "N"}])
    entry = {
        "id": 1,
        "kind": "agg",
        "structure": "prob",
        "role": "plus",
        "var": "N",
        "domain": [1, 2],
        "children": [0],
        **agg,
    }
    with pytest.raises(SerializationError, match=match):
        from_json(doc_of([atom_n, entry], [1]))


def test_aggregation_over_a_regular_variable_loads():
    entries = [
        with_id(P, 0, args=[{"var": "N"}]),
        {
            "id": 1,
            "kind": "agg",
            "structure": "prob",
            "role": "plus",
            "var": "N",
            "domain": [1, "b"],
            "children": [0],
        },
    ]
    body = atom("p", (Var("N"),), "prob")
    assert from_json(doc_of(entries, [1])) is aggregate("sum", "N", (1, "b"), body)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"type": "graph"}, "unknown document type 'graph'"),
        ({"type": "node", "roots": [0, 1]}, "has one root, not 2"),
        ({"roots": 0}, "'roots' must be a list"),
        ({"roots": [True]}, "'roots' must be a list of node ids"),
        ({"nodes": {}}, "'nodes' must be a list"),
        ({"nodes": [3]}, r"nodes\[0\] must be an object"),
        ({"nodes": [{"kind": "atom"}]}, r"nodes\[0\]: missing field 'id'"),
        ({"nodes": [{**P, "id": "0"}]}, r"nodes\[0\]: 'id' must be an integer"),
        ({"nodes": [with_id(P, 0), with_id(P, 0)]}, "node 0: duplicate id"),
        ({"type": "circuit", "names": "q"}, "'names' must be a list of strings"),
        ({"type": "circuit"}, "'names' must be a list of strings"),
    ],
)
def test_malformed_document(change, match):
    doc = doc_of([with_id(P, 0), with_id(P, 1, predicate="q")], [0]) | change
    with pytest.raises(SerializationError, match=match):
        from_json(doc)


def test_child_ids_must_be_integers():
    entries = [
        with_id(P, 1),
        {"id": 2, "kind": "apply", "structure": "prob", "role": "neg", "children": [True]},
    ]
    with pytest.raises(SerializationError, match="node 2: child True does not exist"):
        from_json(doc_of(entries, [2]))


def test_a_circuit_document_is_validated_as_a_circuit():
    f = aggregate("sum", "X", "bool", atom("w", (), "prob", Var("X")))
    doc = to_json(f) | {"type": "circuit", "names": ["q"]}
    with pytest.raises(CircuitError, match="aggregation over X"):
        from_json(doc)


def test_errors_from_a_file_name_the_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(SerializationError, match=r"bad\.json: not valid JSON"):
        load(path)
    path.write_text(json.dumps(doc_of([with_id(P, 0, structure="nosuch")], [0])))
    with pytest.raises(UnknownStructureError, match=r"bad\.json: node 0: unknown structure"):
        load(path)


# --- failed saves --------------------------------------------------------------------------------


@pytest.fixture
def existing(tmp_path):
    path = tmp_path / "model.json"
    save(atom("p", (), "prob"), path)
    return path


def _unchanged(path, before):
    assert path.read_text() == before
    assert load(path) is atom("p", (), "prob")
    assert sorted(os.listdir(path.parent)) == ["model.json"]  # no temporary file left behind


@pytest.mark.parametrize("obj", [object(), [atom("p"), "q"], {"root": atom("p")}, 3])
def test_saving_what_cannot_be_serialised_leaves_the_file(existing, obj):
    before = existing.read_text()
    with pytest.raises(TypeError, match="cannot serialise"):
        save(obj, existing)
    _unchanged(existing, before)


@pytest.mark.parametrize("target", ["fsync", "replace", "chmod"])
def test_a_failure_while_writing_leaves_the_file(existing, monkeypatch, target):
    before = existing.read_text()

    def boom(*args, **kwargs):
        raise OSError(f"disk full ({target})")

    monkeypatch.setattr(os, target, boom)
    with pytest.raises(OSError, match="disk full"):
        save(atom("q", (), "prob"), existing)
    monkeypatch.undo()
    _unchanged(existing, before)


def test_a_failure_while_encoding_leaves_the_file(existing, monkeypatch):
    before = existing.read_text()

    def boom(*args, **kwargs):
        raise ValueError("cannot encode")

    monkeypatch.setattr(json, "dumps", boom)
    with pytest.raises(ValueError, match="cannot encode"):
        save(atom("q", (), "prob"), existing)
    monkeypatch.undo()
    _unchanged(existing, before)


def test_save_replaces_the_file_on_success(existing):
    save(atom("q", (), "prob"), existing)
    assert load(existing) is atom("q", (), "prob")
    assert os.listdir(existing.parent) == ["model.json"]


def test_shuffled_hand_written_document_round_trips():
    rng = random.Random(3)
    c = Circuit(
        [atom("w", (i,), "prob", True) * const(0.5, "prob") for i in range(4)], ["a", "b", "c", "d"]
    )
    doc = to_json(c)
    rng.shuffle(doc["nodes"])
    assert from_json(doc) == c
