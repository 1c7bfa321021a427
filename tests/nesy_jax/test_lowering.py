"""nesy-jax's lowering API: jit / grad / vmap, user algebras and kernels, errors, the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from tests.nesy_compile.programs import WEIGHTED_CNF
from tests.nesy_ir.strategies import tropical

from nesy_ir import Circuit, apply, atom, const, evaluate_circuit, registry
from nesy_ir.cli import main
from nesy_ir.errors import NesyError
from nesy_ir.lowering import KERNELS

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from nesy_jax import Reduction, lower, register_kernel  # noqa: E402
from nesy_jax import kernels as jax_kernels  # noqa: E402

A, B, C = (atom(n, (), "prob") for n in "abc")
# P(a or b) with shared sub-terms, and a second root
CIRCUIT = Circuit(
    [apply("plus", A, apply("times", apply("neg", A), B)), apply("times", A, B, C)], ["or", "abc"]
)
KEYS = ["a", "b", "c"]


def _reference(x: np.ndarray) -> np.ndarray:
    out = evaluate_circuit(CIRCUIT, {k: x[:, i] for i, k in enumerate(KEYS)})
    return np.stack([out["or"], out["abc"]], axis=1)


def test_call_matches_the_reference_and_keeps_batch_shape():
    run = lower(CIRCUIT, dynamic=KEYS)
    assert run.keys == ("a", "b", "c") and run.names == ("or", "abc")
    out = run({"a": np.array([[0.2, 0.5]]), "b": 0.5, "c": np.array([[1.0, 0.0]])})
    assert out["or"].shape == (1, 2)
    np.testing.assert_allclose(out["or"], [[0.6, 0.75]], rtol=1e-6)
    np.testing.assert_allclose(out["abc"], [[0.1, 0.0]], rtol=1e-6)
    scalar = run({"a": 0.2, "b": 0.5, "c": 1.0})
    assert scalar["or"].shape == () and float(scalar["or"]) == pytest.approx(0.6)


def test_static_labels_fold_in():
    run = lower(CIRCUIT, {"b": 0.5, "c": 1.0}, dynamic=["a"])
    np.testing.assert_allclose(run({"a": np.array([0.2, 1.0])})["or"], [0.6, 1.0], rtol=1e-6)


def test_jit_grad_and_vmap_of_matrix():
    x = np.random.default_rng(0).uniform(0.05, 0.95, (5, 3))
    with jax.enable_x64(True):
        run = lower(CIRCUIT, dynamic=KEYS, jit=False)
        np.testing.assert_allclose(jax.jit(run.matrix)(x), _reference(x), rtol=1e-12)
        stacked = np.stack([x, x[::-1]])
        batched = jax.vmap(run.matrix)(stacked)
        np.testing.assert_allclose(batched[1], _reference(x[::-1]), rtol=1e-12)
        grad = jax.jit(jax.grad(lambda m: jnp.sum(run.matrix(m)[:, 0])))(x)
        per_example = jax.vmap(jax.grad(lambda row: run.matrix(row[None])[0, 1]))(x)
    # d/da (a + (1 - a) b) = 1 - b; d/db = 1 - a; c does not occur
    np.testing.assert_allclose(grad, np.stack([1 - x[:, 1], 1 - x[:, 0], 0 * x[:, 2]], 1))
    np.testing.assert_allclose(per_example[:, 2], x[:, 0] * x[:, 1], rtol=1e-12)


def test_float64_when_asked():
    with jax.enable_x64(True):
        out = lower(CIRCUIT, dynamic=KEYS, dtype=jnp.float64)({"a": 0.1, "b": 0.2, "c": 0.3})
        assert out["or"].dtype == jnp.float64
        assert float(out["or"]) == 0.1 + 0.9 * 0.2


def test_user_algebra_with_declared_kernels(monkeypatch):
    algebra = tropical(name="tropical_jax")
    monkeypatch.setitem(registry._ALGEBRAS, algebra.name, algebra)
    monkeypatch.setitem(KERNELS, algebra.name, {"plus": "min", "times": "sum"})
    x, y = atom("x", (), algebra.name), atom("y", (), algebra.name)
    circuit = Circuit([apply("plus", apply("times", x, y), x, const(np.inf, algebra.name))])
    labels = {"x": np.array([0.5, 3.0, np.inf]), "y": np.array([0.25, 0.0, 1.0])}
    expected = evaluate_circuit(circuit, labels)["root0"]
    np.testing.assert_allclose(lower(circuit, dynamic=["x", "y"])(labels)["root0"], expected)


def test_registered_jax_kernel_is_used_and_a_missing_one_is_named(monkeypatch):
    algebra = tropical(name="softmin_jax")
    monkeypatch.setitem(registry._ALGEBRAS, algebra.name, algebra)
    monkeypatch.setitem(KERNELS, algebra.name, {"plus": "softmin", "times": "sum"})
    x, y = atom("x", (), algebra.name), atom("y", (), algebra.name)
    circuit = Circuit([apply("plus", x, y)])
    with pytest.raises(NesyError, match="no reduction kernel 'softmin'.*register_kernel"):
        lower(circuit, dynamic=["x", "y"])
    monkeypatch.setattr(jax_kernels, "REDUCTIONS", dict(jax_kernels.REDUCTIONS))
    register_kernel("softmin", Reduction(jnp.inf, lambda v: -jax.nn.logsumexp(-v, axis=1)))
    out = lower(circuit, dynamic=["x", "y"])({"x": 1.0, "y": 2.0})["root0"]
    assert float(out) == pytest.approx(-np.log(np.exp(-1.0) + np.exp(-2.0)), rel=1e-6)


def test_structure_without_kernels_fails_at_lowering_time(monkeypatch):
    algebra = tropical(name="nokernel_jax")
    monkeypatch.setitem(registry._ALGEBRAS, algebra.name, algebra)
    x = atom("x", (), algebra.name)
    with pytest.raises(NesyError, match="no backend kernel for plus in the nokernel_jax"):
        lower(Circuit([apply("plus", x, x)]), dynamic=["x"])


def test_bad_calls_raise_clear_errors():
    run = lower(CIRCUIT, dynamic=KEYS)
    with pytest.raises(NesyError, match=r"no value for the dynamic labels \['c'\]"):
        run({"a": 0.1, "b": 0.2})
    with pytest.raises(NesyError, match="'d'.*not dynamic labels"):
        run({"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4})
    with pytest.raises(NesyError, match=r"label of b@prob is 1.5, outside the carrier \[0, 1\]"):
        run({"a": 0.1, "b": np.array([0.2, 1.5]), "c": 0.3})
    with pytest.raises(NesyError, match="label of a@prob is NaN"):
        run({"a": np.nan, "b": 0.2, "c": 0.3})
    with pytest.raises(NesyError, match=r"expected labels of shape \(B, 3\)"):
        run.matrix(jnp.zeros((4, 2)))


@pytest.mark.parametrize("algebra", ["prob", "logprob"])
def test_cli_wmc_with_the_jax_backend_equals_numpy(tmp_path, capsys, algebra):
    pytest.importorskip("pysdd")
    path = tmp_path / "small.cnf"
    path.write_text(WEIGHTED_CNF)
    assert main(["wmc", str(path), "--algebra", algebra, "--backend", "numpy"]) == 0
    expected = float(capsys.readouterr().out)
    assert main(["wmc", str(path), "--algebra", algebra, "--backend", "jax"]) == 0
    assert float(capsys.readouterr().out) == pytest.approx(expected, rel=1e-12)
