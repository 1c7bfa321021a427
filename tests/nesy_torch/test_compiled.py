"""Circuits through ``torch.compile`` (``compile=True``): the compiled fused pass against the
eager one (values and gradients, with and without a zero product), its folded dense steps,
and what falls back to compiling the layers op by op."""

import inspect

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nesy_ir import Circuit, apply, atom  # noqa: E402
from nesy_ir.errors import NesyError  # noqa: E402
from nesy_torch import lower  # noqa: E402
from nesy_torch.compiled import compile_own  # noqa: E402
from nesy_torch.fused import FusedStep  # noqa: E402
from nesy_torch.kernels import REDUCTIONS  # noqa: E402
from nesy_torch.lowered import check_compiler  # noqa: E402


def _compiler() -> bool:
    try:
        check_compiler(torch.device("cpu"))
    except NesyError:
        return False
    return True


needs_compiler = pytest.mark.skipif(
    not _compiler(), reason="torch.compile needs a C++ compiler (g++ or clang++) on the CPU"
)


def _circuit(structure: str) -> Circuit:
    """Three gather layers: products of two and of three factors, sums of unequal widths."""
    a, b, c, d = (atom(n, (), structure) for n in "abcd")
    ab, abc = apply("times", a, b), apply("times", a, b, c)
    left, right = apply("plus", ab, c, d), apply("plus", abc, d)
    return Circuit([apply("times", left, right, a), apply("plus", left, ab)])


def _value_and_grad(module, x: torch.Tensor, weights: torch.Tensor):
    leaf = x.clone().requires_grad_(True)
    value = module.matrix(leaf)
    (grad,) = torch.autograd.grad(value, leaf, weights)
    return value.detach(), grad


@pytest.mark.slow  # each program compiles in seconds
@needs_compiler
@pytest.mark.parametrize("slack", [0.0, 1e9])  # scatter wherever possible; dense everywhere
@pytest.mark.parametrize("structure", ["prob", "maxprod"])
def test_the_compiled_pass_equals_the_eager_one(structure, slack):
    circuit = _circuit(structure)
    options = dict(dynamic="abcd", dtype=torch.float64, klay=False, native=False, dense_slack=slack)
    eager, compiled = lower(circuit, **options), lower(circuit, compile=True, **options)
    assert compiled.fuse and compiled._pass is not None  # the fused pass, compiled
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.uniform(0.1, 0.9, (3, 4)))
    weights = torch.as_tensor(rng.uniform(-1, 1, (3, 2)))
    zero = x.clone()
    zero[1, 0] = 0.0  # a zero product: the exact eager backward for this call
    for labels in (x, zero):
        (value, grad), (want, want_grad) = (
            _value_and_grad(m, labels, weights) for m in (compiled, eager)
        )
        torch.testing.assert_close(value, want, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(grad, want_grad, rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        torch.testing.assert_close(compiled.matrix(x), eager.matrix(x), rtol=1e-12, atol=1e-12)


@pytest.mark.slow
@needs_compiler
def test_a_new_batch_width_gets_its_own_program():
    """The compiled functions check only their arguments' guards and torch's global state:
    a new batch width must still compile anew, never reuse another width's program."""
    circuit = _circuit("prob")
    options = dict(dynamic="abcd", dtype=torch.float64, klay=False, native=False)
    eager, compiled = lower(circuit, **options), lower(circuit, compile=True, **options)
    rng = np.random.default_rng(2)
    for batch in (3, 2, 3):
        x = torch.as_tensor(rng.uniform(0.1, 0.9, (batch, 4)))
        weights = torch.as_tensor(rng.uniform(-1, 1, (batch, 2)))
        for got, want in zip(
            _value_and_grad(compiled, x, weights), _value_and_grad(eager, x, weights), strict=True
        ):
            torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
        with torch.no_grad():
            torch.testing.assert_close(compiled.matrix(x), eager.matrix(x), rtol=1e-12, atol=0)


@pytest.mark.slow
@needs_compiler
def test_kernels_without_a_gradient_formula_compile_op_by_op():
    """log and log1mexp (the log-probability structure's negation) have no formula in the
    fused pass: the module compiles its layers op by op, with autograd's gradient."""
    a, b, c = (atom(n, (), "logprob") for n in "abc")
    circuit = Circuit([apply("plus", apply("times", a, apply("neg", b)), apply("times", b, c))])
    options = dict(dynamic="abc", dtype=torch.float64, klay=False, native=False)
    eager, compiled = lower(circuit, **options), lower(circuit, compile=True, **options)
    assert compiled._pass is None
    x = torch.log(torch.tensor([[0.2, 0.5, 0.7], [0.9, 0.1, 0.4]], dtype=torch.float64))
    weights = torch.ones(2, 1, dtype=torch.float64)
    (value, grad), (want, want_grad) = (_value_and_grad(m, x, weights) for m in (compiled, eager))
    torch.testing.assert_close(value, want)
    torch.testing.assert_close(grad, want_grad)


@pytest.mark.parametrize("name", ["sum", "prod"])
def test_a_folded_dense_step_equals_the_dense_one_and_keeps_its_gradient_rule(name):
    reduction = REDUCTIONS[name]
    x = torch.as_tensor(np.random.default_rng(1).uniform(-2, 2, (5, 3, 4)))
    x[0, 1, 2] = 0.0
    torch.testing.assert_close(reduction.folded(x), reduction.dense(x))
    step = FusedStep("dense", name, reduction.folded, 0, 15, 5, (5, 3))
    assert step.rule is FusedStep("dense", name, reduction.dense, 0, 15, 5, (5, 3)).rule
    assert step.rule is not None


def test_every_compiled_function_has_a_code_object_of_its_own():
    """torch.compile keeps at most 8 programs per code object: two circuits' passes must not
    share theirs."""

    def fn(h):
        return h

    first, second = (inspect.unwrap(compile_own(fn, {})) for _ in range(2))
    assert first.__code__ is not second.__code__ and first.__code__ is not fn.__code__
    assert first.__code__ == fn.__code__
    assert first(3) == 3


def test_without_a_cxx_compiler_compile_says_so_when_lowering(monkeypatch):
    import torch._inductor.cpp_builder as builder

    def missing():
        raise RuntimeError("no working C++ compiler found")

    monkeypatch.setattr(builder, "get_cpp_compiler", missing)
    a, b = atom("a", (), "prob"), atom("b", (), "prob")
    with pytest.raises(NesyError, match="needs a C\\+\\+ compiler"):
        lower(Circuit([apply("times", a, b)]), dynamic="ab", klay=False, compile=True)
