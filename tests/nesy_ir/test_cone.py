"""A cone holds exactly the nodes its roots reach, laid out children first."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from tests.backend_strategies import circuits

from nesy_ir import Circuit
from nesy_ir.cone import ConeIndex
from nesy_ir.layerize import layerize


@given(data=st.data())
def test_cone_is_what_the_roots_reach(data):
    circuit = data.draw(circuits())
    layered = layerize(circuit)
    asked = data.draw(st.lists(st.integers(0, len(circuit.roots) - 1), min_size=1, max_size=4))
    cone = ConeIndex(layered).cone(np.array(asked))
    reached = Circuit([circuit.roots[i] for i in asked]).nodes()
    internal = [n for n in reached if n.children]
    parts = [p for layer in cone.layers for p in layer]
    assert cone.leaves == len(layered.leaves)
    assert sum(p.size for p in parts) == len(internal)
    assert sum(len(p.inputs) for p in parts) == sum(len(n.children) for n in internal)
    # every node reads only earlier positions, and the asked roots sit where they were placed
    end = cone.leaves
    for layer in cone.layers:
        start = end
        for part in layer:
            assert (part.inputs < start).all()
            end += part.size
    assert cone.roots.shape == (len(asked),)
    assert (cone.roots < end).all() and (cone.roots >= 0).all()


@given(data=st.data())
def test_small_and_large_layers_are_marked_alike(data):
    """Marking a layer edge by edge (small layers) and node by node (large ones): one cone."""
    circuit = data.draw(circuits())
    layered = layerize(circuit)
    asked = np.array(data.draw(st.lists(st.integers(0, len(circuit.roots) - 1), min_size=1)))
    small, large = ConeIndex(layered).cone(asked), ConeIndex(layered, small_layer=-1).cone(asked)
    assert len(small.layers) == len(large.layers)
    np.testing.assert_array_equal(small.roots, large.roots)
    for one, other in zip(small.layers, large.layers, strict=True):
        assert [(p.block, p.size, p.width) for p in one] == [
            (p.block, p.size, p.width) for p in other
        ]
        for p, q in zip(one, other, strict=True):
            np.testing.assert_array_equal(p.inputs, q.inputs)
            np.testing.assert_array_equal(p.counts, q.counts)


def test_leaves_sit_at_the_rows_given():
    """A buffer whose first rows hold the leaves in another order: the cone reads them there."""
    from nesy_ir import apply, atom

    a, b = atom("a", (), "prob"), atom("b", (), "prob")
    layered = layerize(Circuit([apply("times", a, b), b], ["and", "b"]))
    rows = np.array([2, 0]) if layered.leaves[0] == a else np.array([0, 2])
    cone = ConeIndex(layered, rows, 3).cone(np.array([0, 1]))
    assert cone.leaves == 3
    (part,) = cone.layers[0]
    assert sorted(part.inputs.tolist()) == [0, 2]
    assert cone.roots.tolist() == [3, rows[layered.leaves.index(b)]]
