"""One lowered-circuit interface for every backend (:class:`nesy_ir.backends.LoweredCircuit`):
the same constructor arguments and members on each backend that loads here, values equal to the
reference's, arrays of the backend's own type, and the same clear errors."""

from __future__ import annotations

import contextlib
import sys

import numpy as np
import pytest

from nesy_ir import evaluate_circuit, parse, to_circuit
from nesy_ir.backends import available_backends, backends, get_backend
from nesy_ir.errors import NesyError

ALARM = """sum X in bool: sum Y in bool:
    tau[bool->prob](burglary[X]@bool + earthquake[Y]@bool)
    * burglary(V)[X]@prob * earthquake(S)[Y]@prob"""
ENV = {"V": "v", "S": "s"}
KEYS = ("burglary(v)", "earthquake(s)")
#: the module an array of each backend comes from
ARRAY_MODULE = {"numpy": "numpy", "torch": "torch", "klay": "torch", "jax": "jax"}
BACKENDS = available_backends()


def precision(name: str):
    """float64 where the backend needs a switch for it (JAX's 64-bit mode)."""
    if name == "jax":
        import jax

        return jax.enable_x64(True)
    return contextlib.nullcontext()


def plain(x) -> np.ndarray:
    return np.asarray(x.detach() if hasattr(x, "detach") else x, dtype=float)


@pytest.fixture(scope="module")
def alarm():
    return to_circuit(parse(ALARM))


@pytest.mark.parametrize("name", BACKENDS)
def test_every_backend_lowers_with_the_same_arguments_and_members(name, alarm):
    with precision(name):
        check_members(name, alarm)


def check_members(name, alarm):
    backend = get_backend(name)
    assert backend.name == name
    lowered = backend.lower(alarm, {}, dynamic=KEYS, env=ENV, dtype="float64", device="cpu")
    assert lowered.keys == KEYS
    assert lowered.names == ("root0",)
    rng = np.random.default_rng(0)
    x = rng.uniform(0.05, 0.95, size=(5, 2))
    labels = {k: x[:, i] for i, k in enumerate(KEYS)}
    expected = evaluate_circuit(alarm, labels, ENV)["root0"]
    by_name = lowered(labels)
    assert set(by_name) == {"root0"}
    matrix = lowered.matrix(x)
    for out in (by_name["root0"], matrix):
        root = ARRAY_MODULE.get(name)
        assert root is None or type(out).__module__.split(".")[0].startswith(root[:3])
    np.testing.assert_allclose(plain(by_name["root0"]), expected, rtol=1e-12)
    np.testing.assert_allclose(plain(matrix)[:, 0], expected, rtol=1e-12)
    # scalars in, scalars out
    one = lowered({k: 0.5 for k in KEYS})["root0"]
    assert np.shape(plain(one)) == ()
    np.testing.assert_allclose(plain(one), 0.75)
    # the backend's one-shot evaluation, env included
    got = backend.evaluate_circuit(alarm, labels, ENV)
    np.testing.assert_allclose(np.asarray(got["root0"], dtype=float), expected, rtol=1e-12)


@pytest.mark.parametrize("name", BACKENDS)
def test_every_backend_gives_the_same_clear_errors(name, alarm):
    lowered = get_backend(name).lower(alarm, dynamic=KEYS, env=ENV)
    with pytest.raises(NesyError, match=r"no value for the dynamic labels \['earthquake\(s\)'\]"):
        lowered({"burglary(v)": 0.5})
    with pytest.raises(NesyError, match=r"\['flood'\] are not dynamic labels"):
        lowered({"burglary(v)": 0.5, "earthquake(s)": 0.5, "flood": 0.1})
    with pytest.raises(NesyError, match=r"expected labels of shape \(B, 2\)"):
        lowered.matrix(np.zeros((3, 3)))


@pytest.mark.parametrize("name", BACKENDS)
def test_an_unbound_variable_is_a_clear_error_on_every_backend(name, alarm):
    with pytest.raises(NesyError, match="V"):
        get_backend(name).lower(alarm, {"burglary(v)": 0.5, "earthquake(s)": 0.5})


@pytest.mark.skipif("klay" not in BACKENDS, reason="klaycircuits is not installed")
def test_klay_smooths_a_cnf_circuit_itself_and_refuses_what_smoothing_would_change():
    from nesy_compile import atom_text, compile_cnf, compile_program, mnist_addition_standard
    from nesy_compile.cnf import CNF
    from nesy_ir.smooth import is_smooth

    cnf = CNF(3, ((1, 2), (-1, 3), (2, -3)), {1: 0.3, -1: 0.7, 2: 0.6, -2: 0.4, 3: 0.2, -3: 0.8})
    circuit, labels, _ = compile_cnf(cnf, "prob", "balanced")
    assert not is_smooth(circuit)
    got = get_backend("klay").evaluate_circuit(circuit, labels)["wmc"]
    np.testing.assert_allclose(got, evaluate_circuit(circuit, labels)["wmc"], rtol=1e-12)

    program = compile_program(mnist_addition_standard(1), "prob", vtree="right")
    keys = [atom_text(a) for a in program.neural]
    with pytest.raises(NesyError, match="KLay.*smoothing changes its value"):
        get_backend("klay").lower(program.circuit, program.labelling, dynamic=keys)


def test_klay_without_klaycircuits_is_not_available(monkeypatch):
    pytest.importorskip("nesy_torch")
    if "klay" not in backends():
        pytest.skip("nesy-torch declares no klay backend here")
    monkeypatch.setitem(sys.modules, "klay", None)  # import klay -> ImportError
    monkeypatch.delitem(sys.modules, "nesy_torch.klay_backend", raising=False)
    with pytest.raises(NesyError, match=r"pip install .*nesy-torch\[klay\]"):
        get_backend("klay")
    assert "klay" not in available_backends()


@pytest.mark.skipif("klay" not in BACKENDS, reason="klaycircuits is not installed")
def test_nesy_wmc_with_klay_on_an_unsmoothed_cnf_equals_the_reference(tmp_path, capsys):
    pytest.importorskip("pysdd")
    from nesy_ir.cli import main

    cnf = tmp_path / "f.cnf"
    cnf.write_text(
        "p cnf 3 3\nc p weight 1 0.3 0\nc p weight -1 0.7 0\nc p weight 2 0.6 0\n"
        "c p weight -2 0.4 0\nc p weight 3 0.2 0\nc p weight -3 0.8 0\n1 2 0\n-1 3 0\n2 -3 0\n"
    )
    values = {}
    for name in ("numpy", "klay"):
        assert main(["wmc", str(cnf), "--backend", name]) == 0
        values[name] = float(capsys.readouterr().out)
    # brute force: the weight of every model of (1 or 2) and (not 1 or 3) and (2 or not 3)
    w = {1: 0.3, 2: 0.6, 3: 0.2}
    expected = sum(
        np.prod([w[v] if bit else 1 - w[v] for v, bit in zip((1, 2, 3), bits, strict=True)])
        for bits in np.ndindex(2, 2, 2)
        if (bits[0] or bits[1]) and (not bits[0] or bits[2]) and (bits[1] or not bits[2])
    )
    assert values["klay"] == pytest.approx(expected, rel=1e-12)
    assert values["numpy"] == pytest.approx(expected, rel=1e-12)
