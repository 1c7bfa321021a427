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
