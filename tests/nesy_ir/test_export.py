"""Graph export: networkx round trips to the identical nodes, and DOT text."""

from __future__ import annotations

import json
import re
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.nesy_ir.strategies import serialisable_formulas, serialisable_prob_formulas

from nesy_ir import Circuit, Kind, TensorConst, Var, aggregate, apply, atom, const, transform
from nesy_ir.errors import CircuitError, NesyError, StructureMismatchError
from nesy_ir.export import from_networkx, label, to_dot, to_networkx
from nesy_ir.serialize import SerializationError
from nesy_ir.traverse import postorder, size

nx = pytest.importorskip("networkx")


def distinct_edges(roots) -> int:
    return len({(id(n), id(c)) for n in postorder(roots) for c in n.children})


@given(serialisable_formulas())
def test_networkx_round_trip_is_identical(f):
    graph = to_networkx(f)
    assert isinstance(graph, nx.DiGraph)
    assert from_networkx(graph) is f
    nodes, edges = size([f])
    assert graph.number_of_nodes() == nodes
    assert sum(len(d["positions"]) for _, _, d in graph.edges(data=True)) == edges
    assert graph.number_of_edges() == distinct_edges([f])
    assert graph.graph["type"] == "node" and graph.graph["names"] is None
    assert graph.graph["roots"] == [nodes - 1]
    order = postorder([f])
    for i, node in enumerate(order):
        data = graph.nodes[i]
        assert (data["kind"], data["structure"], data["label"]) == (
            node.kind.value,
            node.structure,
            label(node),
        )
        children = sorted(graph.successors(i), key=lambda c: graph.edges[i, c]["position"])
        assert [order[c] for c in children] == list(dict.fromkeys(node.children))


@given(st.lists(serialisable_prob_formulas(6), min_size=1, max_size=3))
def test_networkx_round_trip_of_a_list(fs):
    graph = to_networkx(fs)
    back = from_networkx(graph)
    assert all(a is b for a, b in zip(back, fs, strict=True))
    assert graph.number_of_nodes() == size(fs)[0]


def test_networkx_round_trip_of_a_circuit():
    w = [atom("w", (i,), "prob", True) for i in range(3)]
    shared = w[0] * w[1]
    c = Circuit([shared + w[2], apply("neg", shared), shared], ["q0", "q1", "q2"])
    graph = to_networkx(c)
    assert graph.graph["type"] == "circuit" and graph.graph["names"] == ["q0", "q1", "q2"]
    assert from_networkx(graph) == c
    nodes, edges = size(c.roots)
    assert (graph.number_of_nodes(), graph.number_of_edges()) == (nodes, edges)


def test_repeated_child_has_all_its_positions():
    a = atom("a", (), "prob")
    f = apply("times", a, const(0.5, "prob"), a)
    graph = to_networkx(f)
    assert graph.edges[2, 0]["positions"] == [0, 2] and graph.edges[2, 0]["position"] == 0
    assert graph.edges[2, 1]["positions"] == [1]
    assert from_networkx(graph) is f
    assert size([f]) == (3, 3) and graph.number_of_edges() == 2


def test_labels():
    a = transform(atom("a", (), "bool", Var("X")), "prob")
    w = atom("w", ("c",), "prob", Var("X"))
    f = aggregate("sum", "X", "bool", apply("neg", a + w) * w)
    labels = {n: label(n) for n in postorder([f])}
    assert labels[a] == "tau[bool->prob]"
    assert labels[a + w] == "+"
    assert labels[apply("neg", a + w)] == "~"
    assert labels[f.children[0]] == "*"
    assert labels[f] == "sum X"
    assert labels[w] == "w(c)[X]@prob"
    assert labels[a.children[0]] == "a[X]@bool"
    assert label(const(0.25, "prob")) == str(const(0.25, "prob"))
    assert label(aggregate("exists", "X", "bool", a.children[0])) == "exists X"


def test_fallback_text_matches_the_syntax():
    from nesy_ir.export import _fallback_text

    leaves = [
        atom("p"),
        atom("w", ("c", 3, TensorConst("img"), Var("N")), "prob", Var("X")),
        atom("e", (), "prob", False),
        const(True, "bool"),
        const(0.125, "prob"),
        const(float("-inf"), "logprob"),
    ]
    for leaf in leaves:
        assert _fallback_text(leaf) == str(leaf)


def test_graph_attributes_are_plain_json():
    f = aggregate("sum", "X", "bool", atom("w", (TensorConst("t"), 1), "prob", Var("X")))
    graph = to_networkx(Circuit([atom("p", (), "prob", True)], ["q"]))
    json.dumps(dict(graph.nodes(data=True)))
    json.dumps(dict(to_networkx(f).nodes(data=True)))


def test_a_hand_built_graph_without_roots():
    graph = nx.DiGraph()
    graph.add_node("p", kind="atom", structure="prob", predicate="p", args=[], rvar=None)
    graph.add_node("k", kind="const", structure="prob", value=0.5)
    graph.add_node("top", kind="apply", structure="prob", role="times")
    graph.add_edge("top", "p", position=0)
    graph.add_edge("top", "k", position=1)
    assert from_networkx(graph) is atom("p", (), "prob") * const(0.5, "prob")


def test_cyclic_graph_is_a_circuit_error():
    a = atom("a", (), "prob")
    f = apply("neg", apply("neg", a))  # ids: 0 = a, 1 = ~a, 2 = ~~a
    graph = to_networkx(f)
    graph.remove_edge(1, 0)
    graph.add_edge(1, 2, position=0)
    with pytest.raises(CircuitError, match=r"cyclic circuit: node (1 -> 2 -> 1|2 -> 1 -> 2)"):
        from_networkx(graph)


def test_bad_graphs_are_nesy_errors():
    f = atom("a", (), "prob") + atom("b", (), "prob")
    graph = to_networkx(f)
    del graph.edges[2, 1]["positions"], graph.edges[2, 1]["position"]
    with pytest.raises(SerializationError, match="node 2: edge to 1 has position None"):
        from_networkx(graph)
    graph = to_networkx(f)
    graph.edges[2, 1]["positions"] = [5]
    with pytest.raises(SerializationError, match=r"node 2: child positions \[0, 5\]"):
        from_networkx(graph)
    graph = to_networkx(f)
    graph.nodes[1]["structure"] = "bool"
    with pytest.raises(StructureMismatchError, match="node 2: "):
        from_networkx(graph)
    graph = to_networkx(f)
    del graph.nodes[0]["kind"]
    with pytest.raises(NesyError, match="node 0: missing field 'kind'"):
        from_networkx(graph)


def test_missing_networkx_is_reported(monkeypatch):
    monkeypatch.setitem(sys.modules, "networkx", None)
    hint = r"pip install --find-links dist 'nesy-ir\[graph\]' \(build the wheels with: bash dev.sh"
    with pytest.raises(ImportError, match=hint):
        to_networkx(atom("p"))


QUOTED = r'"(?:[^"\\]|\\.)*"'
NODE_LINE = re.compile(rf"^  n(\d+) \[shape=(oval|box), label={QUOTED}(, xlabel={QUOTED})?\];$")
EDGE_LINE = re.compile(r"^  n(\d+) -> n(\d+);$")


def dot_lines(text):
    lines = text.splitlines()
    assert lines[0].startswith("digraph ") and lines[-1] == "}"
    nodes = [m for m in map(NODE_LINE.match, lines) if m]
    edges = [m for m in map(EDGE_LINE.match, lines) if m]
    assert len(nodes) + len(edges) + 2 == len(lines)
    return nodes, edges


@given(serialisable_formulas())
def test_dot_has_one_line_per_node_and_edge(f):
    nodes, edges = dot_lines(to_dot(f))
    assert (len(nodes), len(edges)) == size([f])
    order = postorder([f])
    for m in nodes:
        node = order[int(m[1])]
        assert m[2] == ("oval" if node.kind in (Kind.ATOM, Kind.CONST) else "box")
    pairs = sorted((int(a), int(b)) for a, b in (m.groups() for m in edges))
    index = {id(n): i for i, n in enumerate(order)}
    expected = sorted((i, index[id(c)]) for i, n in enumerate(order) for c in n.children)
    assert pairs == expected


def test_dot_names_the_roots_and_escapes_quotes():
    p = atom("say", ('he said "hi"', "back\\slash"), "prob", True)
    c = Circuit([p, p * const(0.5, "prob"), p], ["first", "second", "third"])
    text = to_dot(c)
    nodes, edges = dot_lines(text)
    assert (len(nodes), len(edges)) == size(c.roots)
    assert 'xlabel="first, third"' in text and 'xlabel="second"' in text
    assert r'label="say(he said \"hi\", back\\slash)[true]@prob"' in text
