"""The KLay fast path equals the generic path, and is taken only where it applies."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("klay")
pytest.importorskip("pysdd")

from nesy_compile.cnf import CNF  # noqa: E402
from nesy_compile.wmc import compile_cnf  # noqa: E402
from nesy_ir import Circuit, apply, atom, const  # noqa: E402
from nesy_ir.errors import NesyError  # noqa: E402
from nesy_ir.smooth import is_smooth, smooth  # noqa: E402
from nesy_torch import CircuitModule, lower  # noqa: E402
from nesy_torch.klay_path import KlayModule  # noqa: E402


def _cnf(n: int, seed: int) -> CNF:
    rng = np.random.default_rng(seed)
    clauses = tuple(
        tuple(
            int(v)
            for v in rng.choice(np.arange(1, n + 1), 3, replace=False) * rng.choice([-1, 1], 3)
        )
        for _ in range(2 * n)
    )
    return CNF(n, clauses)


@pytest.mark.parametrize("structure", ["prob", "logprob", "real"])
@pytest.mark.parametrize("seed", [0, 1])
def test_klay_equals_generic_on_smoothed_compiled_cnfs(structure, seed):
    circuit, _, _ = compile_cnf(_cnf(10, seed), structure)
    circuit = smooth(circuit)
    assert is_smooth(circuit)
    keys = [f"x{i}" for i in range(1, 11)]
    fast = lower(circuit, dynamic=keys, dtype=torch.float64, klay=True)
    generic = lower(circuit, dynamic=keys, dtype=torch.float64, klay=False, native=False)
    assert isinstance(fast, KlayModule) and isinstance(generic, CircuitModule)
    assert fast.keys == generic.keys
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, (7, 10))
    x = torch.tensor(np.log(p) if structure == "logprob" else p, requires_grad=True)
    y = x.detach().clone().requires_grad_(True)
    got, want = fast.matrix(x), generic.matrix(y)
    torch.testing.assert_close(got, want)
    got.sum().backward()
    want.sum().backward()
    torch.testing.assert_close(x.grad, y.grad)


def test_klay_takes_explicit_false_weights_that_are_not_complements():
    a, b = atom("a", (), "prob", True), atom("a", (), "prob", False)
    c = atom("c", (), "prob", True)
    circuit = Circuit([apply("times", apply("plus", a, b), c)])
    labels = {"a[true]": 0.3, "a[false]": 0.9}
    fast = lower(circuit, labels, ["c"], dtype=torch.float64, klay=True)
    generic = lower(circuit, labels, ["c"], dtype=torch.float64, klay=False)
    x = torch.tensor([[0.5], [0.25]], dtype=torch.float64)
    torch.testing.assert_close(fast.matrix(x), generic.matrix(x))
    torch.testing.assert_close(fast.matrix(x)[:, 0], 1.2 * x[:, 0])


def test_auto_falls_back_silently_and_forcing_names_the_reason():
    a, b = atom("a", (), "prob"), atom("b", (), "prob")
    true_or = Circuit([apply("plus", const(1.0, "prob"), a)])  # KLay would simplify it to true
    assert isinstance(lower(true_or, dynamic="a", native=False), CircuitModule)
    with pytest.raises(NesyError, match="KLay path does not apply.*differs|smooth"):
        lower(true_or, dynamic="a", klay=True)
    fuzzy = Circuit([apply("plus", atom("a", (), "lukasiewicz"), atom("b", (), "lukasiewicz"))])
    assert isinstance(lower(fuzzy, dynamic="ab"), CircuitModule)
    with pytest.raises(NesyError, match="KLay needs one structure of"):
        lower(fuzzy, dynamic="ab", klay=True)
    negated = Circuit([apply("neg", apply("times", a, b))])
    with pytest.raises(NesyError, match="only plus"):
        lower(negated, dynamic="ab", klay=True)
    generic = lower(Circuit([a * b]), dynamic="ab", klay=False, native=False)
    assert isinstance(generic, CircuitModule)
