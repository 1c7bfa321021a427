"""Layerization: index arrays that are well formed and evaluate like the circuit they come from."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.nesy_ir.strategies import closed_formulas, random_labels

from nesy_ir import Labelling, apply, atom, const, to_circuit, transform
from nesy_ir.algebras import BUILTIN_ALGEBRAS
from nesy_ir.circuit import Circuit
from nesy_ir.evaluate import evaluate_circuit
from nesy_ir.layerize import Layered, evaluate_layered, layerize
from nesy_ir.registry import get_algebra

STRUCTURES = [a.name for a in BUILTIN_ALGEBRAS]
BATCH = 5
SETTINGS = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def check_structure(layered: Layered, circuit: Circuit) -> None:
    stats, cstats = layered.stats(), circuit.stats()
    assert (stats["nodes"], stats["edges"]) == (cstats["nodes"], cstats["edges"])
    assert stats["padding"] == 0 and stats["klay_padding"] >= 0
    assert all(not n.children for n in layered.leaves)
    layer_of = np.zeros(layered.num_nodes, dtype=np.int64)
    expected_first = len(layered.leaves)
    for k, layer in enumerate(layered.layers, start=1):
        assert layer, f"layer {k} is empty"
        for b in layer:
            assert b.first == expected_first and b.size > 0
            expected_first += b.size
            assert b.inputs.dtype == np.int64 and b.segments.dtype == np.int64
            assert np.all(np.diff(b.segments) >= 0), "segments not sorted"
            assert set(b.segments.tolist()) == set(range(b.size)), "segments miss a node"
            assert np.all((0 <= b.inputs) & (b.inputs < b.first + b.segments))
            if b.unary:
                assert np.array_equal(b.segments, np.arange(b.size))
            deepest = np.full(b.size, -1)
            np.maximum.at(deepest, b.segments, layer_of[b.inputs])
            assert np.all(deepest == k - 1), "a node's layer is not 1 + its deepest child's"
            layer_of[b.first : b.first + b.size] = k
    assert expected_first == layered.num_nodes
    assert len(layered.roots) == len(circuit.roots)
    assert np.all((0 <= layered.roots) & (layered.roots < layered.num_nodes))


def same(expected: dict, got: dict) -> None:
    assert expected.keys() == got.keys()
    for name in expected:
        a, b = np.broadcast_arrays(
            np.asarray(expected[name], dtype=float), np.asarray(got[name], dtype=float)
        )
        assert np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True), (name, a, b)


def check(circuit: Circuit, labels: Labelling) -> None:
    layered = layerize(circuit)
    check_structure(layered, circuit)
    expected = evaluate_circuit(circuit, labels)
    got = evaluate_layered(layered, labels)
    same(expected, got)
    for name, gid in zip(layered.names, layered.roots.tolist(), strict=True):
        assert got[name].shape == got[layered.names[0]].shape in ((), (BATCH,))
        boolean = get_algebra(layered.structure_of(gid)).carrier.boolean
        assert (got[name].dtype == np.bool_) == boolean


@pytest.mark.parametrize("structure", STRUCTURES)
@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_layered_evaluation_equals_circuit_evaluation(structure, data, seed):
    f = data.draw(closed_formulas(structure, max_leaves=12))
    labels = random_labels(structure, seed)
    check(to_circuit(f, labelling=labels), labels)
    check(to_circuit(f, optimised=False), labels)


@pytest.mark.parametrize("structure", STRUCTURES)
@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_multi_root_circuits_sharing_nodes(structure, data, seed):
    fs = data.draw(st.lists(closed_formulas(structure), min_size=1, max_size=3))
    roots = [*fs, apply("plus", fs[0], fs[-1]), apply("times", *fs), fs[0]]
    labels = random_labels(structure, seed)
    circuit = to_circuit(roots, names=[f"r{i}" for i in range(len(roots))], labelling=labels)
    check(circuit, labels)


def test_roots_that_are_leaves_and_repeated_children():
    p, q = atom("p", (), "prob"), atom("q", ("c",), "prob")
    half = const(0.5, "prob")
    b = atom("b", (), "bool")
    circuit = Circuit([p, half, p * q + half, apply("plus", p, p), transform(~b, "prob"), b])
    layered = layerize(circuit)
    check_structure(layered, circuit)
    leaf_ids = layered.roots[[0, 1, 5]]
    assert np.all(leaf_ids < len(layered.leaves))
    assert [layered.leaves[i] for i in leaf_ids] == [p, half, b]
    labels = Labelling({"p": [0.1, 0.7], "q(c)": [0.4, 0.2], "b": [True, False]})
    out = evaluate_layered(layered, labels)
    same(evaluate_circuit(circuit, labels), out)
    assert np.allclose(out["root3"], [0.2, 1.4])
    assert out["root5"].dtype == np.bool_
    unbatched = evaluate_layered(layered, {"p": 0.1, "q(c)": 0.4, "b": 1})
    assert unbatched["root2"].shape == () and np.isclose(unbatched["root2"], 0.54)


def test_layout_of_a_small_circuit():
    a, b, c, d = (atom(x, (), "prob") for x in "abcd")
    root = a * (b + c * d)
    layered = layerize(Circuit([root, a]))
    assert [n.arg.predicate for n in layered.leaves] == ["a", "b", "c", "d"]
    assert [[(blk.op, blk.size) for blk in layer] for layer in layered.layers] == [
        [("times", 1)],
        [("plus", 1)],
        [("times", 1)],
    ]
    (cd,), (s,), (top,) = layered.layers
    assert (cd.first, s.first, top.first) == (4, 5, 6)
    assert cd.inputs.tolist() == [2, 3] and s.inputs.tolist() == [1, 4]
    assert top.inputs.tolist() == [0, 5] and top.segments.tolist() == [0, 0]
    assert layered.roots.tolist() == [6, 0]
    # KLay would carry a to layer 2 and to the top (3) as a root, and b to layer 1: 3 + 1
    assert layered.stats()["klay_padding"] == 4
    assert layered.stats()["max_width"] == 1


def test_blocks_group_by_operation_and_structure():
    p, q = atom("p", (), "prob"), atom("q", (), "prob")
    lp, lq = atom("p", (), "logprob"), atom("q", (), "logprob")
    roots = [p + q, p * q, ~p, lp + lq, transform(p, "logprob"), apply("plus", p, q, p * q)]
    layered = layerize(Circuit(roots))
    first = {(b.op, b.structure): b for b in layered.layers[0]}
    assert set(first) == {
        ("plus", "prob"),
        ("times", "prob"),
        ("neg", "prob"),
        ("plus", "logprob"),
        ("transform:prob->logprob", "logprob"),
    }
    assert first[("transform:prob->logprob", "logprob")].transformation == ("prob", "logprob")
    assert first[("plus", "prob")].size == 1 and len(layered.layers) == 2
    index, mask = layered.layers[1][0].dense()
    assert index.shape == mask.shape == (1, 3) and mask.all()


def test_dense_layout_pads_uneven_fan_in():
    xs = [atom(f"x{i}", (), "lukasiewicz") for i in range(4)]
    roots = [apply("plus", *xs[:2]), apply("plus", *xs)]
    layered = layerize(Circuit(roots))
    (block,) = layered.layers[0]
    index, mask = block.dense()
    assert mask.tolist() == [[True, True, False, False], [True, True, True, True]]
    assert index[0, :2].tolist() == block.inputs[:2].tolist()
    labels = {f"x{i}": [0.1 * i, 0.3] for i in range(4)}
    out = evaluate_layered(layered, labels)
    assert np.allclose(out["root0"], [0.1, 0.6]) and np.allclose(out["root1"], [0.6, 1.0])


def test_empty_circuit():
    layered = layerize(Circuit([]))
    assert layered.num_nodes == 0 and layered.roots.shape == (0,)
    assert evaluate_layered(layered, {}) == {}
