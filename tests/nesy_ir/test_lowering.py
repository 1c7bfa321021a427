"""The data backends lower from: kernel names, the leaf plan, backend discovery."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.backend_strategies import circuits, labels_for

from nesy_ir import Circuit, apply, atom, const, evaluate_circuit
from nesy_ir.backends import backends, get_backend
from nesy_ir.errors import NesyError
from nesy_ir.layerize import layerize
from nesy_ir.lowering import KERNELS, check_structures, kernel, plan_leaves, register_kernels


def _leaf_values(plan, values: dict) -> np.ndarray:
    """The leaves' values from a plan, the way a backend computes them (prob/bool kernels)."""
    unary = {"identity": lambda x: x, "complement": lambda x: 1.0 - x}
    out = plan.static.copy()
    for name, (leaf, source) in plan.kernel_groups().items():
        out[leaf] = unary[name](np.array([values[plan.keys[s]] for s in source]))
    return out


def test_leaf_plan_static_dynamic_and_negated():
    a, b = atom("a", (), "prob", True), atom("a", (), "prob", False)
    c = atom("c", ("x",), "prob", False)
    layered = layerize(Circuit([apply("plus", apply("times", a, c), b, const(0.25, "prob"))]))
    plan = plan_leaves(layered, {"c(x)": 0.9, "c(x)[false]": 0.5}, dynamic=["a"])
    assert plan.keys == ("a",)
    leaves = [str(n) for n in layered.leaves]
    values = dict(zip(leaves, _leaf_values(plan, {"a": 0.3}), strict=True))
    assert values["a[true]@prob"] == pytest.approx(0.3)
    assert values["a[false]@prob"] == pytest.approx(0.7)  # the negation of the dynamic label
    assert values["c(x)[false]@prob"] == pytest.approx(0.5)  # its own label wins
    assert values["0.25@prob"] == pytest.approx(0.25)


def test_a_false_label_of_its_own_is_not_negated():
    """Choice atoms label a[false] with 1.0: a dynamic a must not override that."""
    layered = layerize(
        Circuit([apply("times", atom("a", (), "prob", False), atom("b", (), "prob"))])
    )
    plan = plan_leaves(layered, {"a[false]": 1.0}, dynamic=["a", "b"])
    assert list(plan.dynamic_leaf) == [
        i for i, n in enumerate(layered.leaves) if str(n) == "b@prob"
    ]


def test_batched_static_labels_are_refused_with_the_atom_named():
    layered = layerize(Circuit([atom("a", (), "prob")]))
    with pytest.raises(NesyError, match="a@prob is batched"):
        plan_leaves(layered, {"a": np.array([0.1, 0.2])})


@settings(max_examples=60, deadline=None)
@given(circuits(), st.integers(0, 1000))
def test_every_builtin_block_has_a_kernel_and_numpy_lowering_agrees(circuit, seed):
    check_structures(layerize(circuit))
    labels = labels_for(circuit, seed)
    run = get_backend("numpy").lower(circuit, dynamic=labels)
    expected = evaluate_circuit(circuit, labels)
    for name, value in run(labels).items():
        np.testing.assert_allclose(np.asarray(value, float), np.asarray(expected[name], float))


def test_missing_kernel_and_registration():
    with pytest.raises(NesyError, match="no backend kernel for plus in the tropical"):
        kernel("plus", "tropical")
    register_kernels("tropical", plus="min", times="sum")
    try:
        assert kernel("plus", "tropical") == "min"
    finally:
        KERNELS.pop("tropical")


def test_unknown_backend_names_the_package_to_install():
    assert "numpy" in backends()
    with pytest.raises(NesyError, match="pip install nesy-nosuch"):
        get_backend("nosuch")
