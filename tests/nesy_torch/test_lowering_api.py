"""The lowering's API: errors, user kernels, the backend entry point and the CLI."""

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import nesy_torch  # noqa: E402
from nesy_ir import Algebra, Carrier, Circuit, apply, atom, const, evaluate_circuit  # noqa: E402
from nesy_ir.backends import get_backend  # noqa: E402
from nesy_ir.errors import NesyError  # noqa: E402
from nesy_ir.lowering import KERNELS, register_kernels  # noqa: E402
from nesy_ir.registry import register_algebra  # noqa: E402
from nesy_torch import CircuitModule, NativeCircuit, lower, register_kernel  # noqa: E402


def _tropical(name: str) -> Algebra:
    return register_algebra(
        Algebra(
            name=name,
            carrier=Carrier("R u -inf", low=-np.inf, high=np.inf),
            zero=-np.inf,
            one=0.0,
            plus=np.maximum,
            times=np.add,
            neg=None,
            aggregators={"max": "plus", "sum": "times"},
            laws=frozenset(),
            description="max-plus (tropical) semiring",
        ),
        replace=True,
    )


def _circuit(structure: str) -> Circuit:
    a, b, c = (atom(n, (), structure) for n in "abc")
    return Circuit([apply("plus", apply("times", a, b), apply("times", b, c), c)])


def test_a_user_algebra_with_registered_kernels_lowers():
    _tropical("tropical_t")
    register_kernels("tropical_t", plus="max", times="sum")
    circuit = _circuit("tropical_t")
    labels = {"a": np.array([1.0, -2.0]), "b": np.array([0.5, 3.0]), "c": np.array([-1.0, 0.0])}
    module = lower(circuit, dynamic=labels, dtype=torch.float64)
    got = module({k: torch.tensor(v) for k, v in labels.items()})["root0"]
    np.testing.assert_allclose(got.numpy(), evaluate_circuit(circuit, labels)["root0"])


def test_a_user_kernel_lowers_and_a_missing_one_is_a_clear_error():
    _tropical("softmax_t")
    KERNELS["softmax_t"] = {"plus": "smooth_max", "times": "sum"}
    with pytest.raises(NesyError, match="no reduction kernel 'smooth_max'.*register_kernel"):
        lower(_circuit("softmax_t"))
    register_kernel("smooth_max", lambda x: torch.logsumexp(x, dim=1), neutral=-np.inf)
    module = lower(_circuit("softmax_t"), dynamic="abc", dtype=torch.float64)
    x = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    want = np.logaddexp(np.logaddexp(3.0, 5.0), 3.0)
    assert module.matrix(x)[0, 0].item() == pytest.approx(want)


def test_a_structure_without_kernels_fails_when_lowering():
    _tropical("nokernels_t")
    with pytest.raises(NesyError, match="no backend kernel for (plus|times) in the nokernels_t"):
        lower(_circuit("nokernels_t"))


def test_missing_dynamic_label_and_bad_shapes_are_clear_errors():
    module = lower(_circuit("prob"), dynamic=["a", "b", "c"])
    with pytest.raises(NesyError, match=r"no value for the dynamic labels \['c'\]"):
        module({"a": 0.1, "b": 0.2})
    with pytest.raises(NesyError, match="share one batch size"):
        module({"a": torch.ones(2), "b": torch.ones(3), "c": 0.5})
    with pytest.raises(NesyError, match=r"expected labels of shape \(B, 3\)"):
        module.matrix(torch.ones(4, 2))


@pytest.mark.parametrize("native", [None, False])
def test_static_and_dynamic_labels_mix_and_scalars_stay_scalars(native):
    module = lower(
        _circuit("prob"), {"b": 0.5}, dynamic=["a", "c"], dtype=torch.float64, native=native
    )
    runs_natively = native is not False and nesy_torch.native.library() is not None
    assert isinstance(module, NativeCircuit if runs_natively else CircuitModule)
    assert module.keys == ("a", "c")
    out = module({"a": 0.2, "c": 0.4})["root0"]
    assert out.shape == () and out.item() == pytest.approx(0.2 * 0.5 + 0.5 * 0.4 + 0.4)
    batched = module({"a": torch.tensor([0.2, 0.0]), "c": 0.4})["root0"]
    np.testing.assert_allclose(batched.numpy(), [0.7, 0.6])


def test_bool_circuits_are_zero_one_floats():
    a, b = atom("a", (), "bool"), atom("b", (), "bool")
    module = lower(Circuit([apply("plus", a, apply("neg", b)), const(True, "bool")]), dynamic="ab")
    out = module.matrix(torch.tensor([[0.0, 1.0], [0.0, 0.0], [1.0, 1.0]]))
    np.testing.assert_array_equal(out.numpy(), [[0.0, 1.0], [1.0, 1.0], [1.0, 1.0]])


@pytest.mark.parametrize("native", [None, False])
def test_buffers_follow_the_module(native):
    module = lower(
        _circuit("logprob"), {"b": -0.5}, dynamic="ac", dtype=torch.float64, native=native
    )
    names = {n.split(".")[-1] for n, _ in module.named_buffers()}
    assert "static" in names and ("roots" in names or "digest" in names)  # generic or native
    moved = module.to("meta")
    assert all(b.device.type == "meta" for b in moved.buffers())


def test_backend_entry_point_evaluates_in_float64():
    backend = get_backend("torch")
    circuit = _circuit("prob")
    labels = {"a": np.array([0.1, 0.9]), "b": 0.3, "c": np.array([0.2, 0.0])}
    got = backend.evaluate_circuit(circuit, labels)["root0"]
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, evaluate_circuit(circuit, labels)["root0"], rtol=1e-15)


@pytest.mark.parametrize("backend", ["torch", "klay"])
def test_nesy_wmc_with_the_torch_backend_prints_the_numpy_count(tmp_path, backend):
    pytest.importorskip("pysdd")
    if backend == "klay":
        pytest.importorskip("klay")
    cnf = tmp_path / "small.cnf"
    cnf.write_text(
        "p cnf 4 3\n1 -2 0\n2 3 -4 0\n-1 4 0\n"
        "c p weight 1 0.3 0\nc p weight -1 0.7 0\nc p weight 2 0.6 0\nc p weight -2 0.4 0\n"
    )

    def count(name: str) -> float:
        run = subprocess.run(
            [sys.executable, "-m", "nesy_ir.cli", "wmc", str(cnf), "--backend", name],
            capture_output=True,
            text=True,
            check=True,
        )
        return float(run.stdout.strip())

    assert count(backend) == pytest.approx(count("numpy"), rel=1e-12)


def test_padding_constants_exist_only_where_a_dense_block_reads_them():
    a, b, c, d = (atom(n, (), "prob") for n in "abcd")
    full = Circuit([apply("plus", apply("times", a, b), apply("times", c, d))])
    labels = {n: np.array([0.3, 0.6]) for n in "abcd"}
    module = lower(full, dynamic="abcd", dtype=torch.float64, klay=False, native=False)
    assert module.static.numel() == 0  # every block full width: no constants carried
    ragged = Circuit([apply("plus", apply("times", a, b, c), apply("times", c, d))])
    module = lower(ragged, dynamic="abcd", dtype=torch.float64, klay=False, native=False)
    assert module.static[:, 0].tolist() == [1.0]  # the product's neutral pads a, b, c | c, d
    got = module({k: torch.tensor(v) for k, v in labels.items()})["root0"]
    np.testing.assert_allclose(got.numpy(), evaluate_circuit(ragged, labels)["root0"])


@pytest.mark.parametrize("structure", ["prob", "logprob"])
def test_small_sum_layers_are_one_matrix_product_only_where_values_are_finite(structure):
    a, b, c, d = (atom(n, (), structure) for n in "abcd")
    circuit = Circuit([apply("plus", apply("times", a, b), apply("times", c, d)), a])
    module = lower(circuit, dynamic="abcd", dtype=torch.float64, klay=False, native=False)
    kinds = [step.kind for layer in module.layout.layers for step in layer]
    # log-probabilities can be -inf, and 0 * -inf is NaN: no matrix product there
    assert ("matmul" in kinds) == (structure == "prob")
    values = {"a": [0.3, 0.0], "b": [0.6, 1.0], "c": [0.2, 0.5], "d": [1.0, 0.0]}
    if structure == "logprob":
        with np.errstate(divide="ignore"):  # log 0 = -inf, on purpose
            values = {k: np.log(v) for k, v in values.items()}
    got = module({k: torch.tensor(v) for k, v in values.items()})
    want = evaluate_circuit(circuit, {k: np.asarray(v) for k, v in values.items()})
    for name in circuit.names:
        np.testing.assert_allclose(got[name].numpy(), want[name])
