"""Neural labelling in JAX: label matrices, the NLL and semantic loss, and learning through a
circuit from sum labels alone."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from nesy_ir import Circuit, apply, atom, evaluate_circuit
from nesy_ir.errors import NesyError
from nesy_ir.terms import TensorConst

jax = pytest.importorskip("jax")
pytest.importorskip("pysdd")
import jax.numpy as jnp  # noqa: E402

from nesy_compile import compile_program  # noqa: E402
from nesy_jax import NeuralCircuit, NeuralLabelling  # noqa: E402

DIGITS = (0, 1, 2, 3)
ADDITION = """nn(net, [X], Y, [0,1,2,3]) :: digit(X, Y).
add(X, Y, Z) :- digit(X, DX), digit(Y, DY), Z is DX + DY.
query(add(tensor(a), tensor(b), Z)).
"""
# logic in the loss: the two digits must differ
DIFFERENT = """nn(net, [X], Y, [0,1,2,3]) :: digit(X, Y).
different :- digit(tensor(a), DA), digit(tensor(b), DB), DA \\= DB.
query(different).
"""
DIM, HIDDEN = 16, 32


def _mlp(params, x):
    """Scores (logits) over the digits."""
    hidden = jax.nn.relu(x @ params["w1"] + params["b1"])
    return hidden @ params["w2"] + params["b2"]


def _probs(params, x) -> np.ndarray:
    return np.asarray(jax.nn.softmax(_mlp(params, x), axis=-1))


def _init(key) -> dict:
    k1, k2 = jax.random.split(key)
    return {
        "w1": jax.random.normal(k1, (DIM, HIDDEN)) / np.sqrt(DIM),
        "b1": jnp.zeros(HIDDEN),
        "w2": jax.random.normal(k2, (HIDDEN, len(DIGITS))) / np.sqrt(HIDDEN),
        "b2": jnp.zeros(len(DIGITS)),
    }


def _adam(params, grads, state, step, lr=1e-2, b1=0.9, b2=0.999, eps=1e-8):
    m, v = state
    m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
    v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
    step = step + 1
    update = jax.tree.map(
        lambda m, v: lr * (m / (1 - b1**step)) / (jnp.sqrt(v / (1 - b2**step)) + eps), m, v
    )
    return jax.tree.map(lambda p, u: p - u, params, update), (m, v)


def _images(rng, prototypes, digits):
    return prototypes[digits] + 0.6 * rng.standard_normal((len(digits), DIM))


def test_label_matrix_and_query_values_equal_the_reference():
    program = compile_program(ADDITION, "prob")
    model = NeuralCircuit(program, {"digit": _mlp})
    params = {"digit": _init(jax.random.PRNGKey(0))}
    rng = np.random.default_rng(0)
    inputs = {"a": rng.standard_normal((3, DIM)), "b": rng.standard_normal((3, DIM))}
    matrix = model.labelling(params, inputs)
    probs = {n: _probs(params["digit"], inputs[n]) for n in "ab"}
    expected_matrix = [probs[k[len("digit(tensor(")]][:, int(k[-2])] for k in model.circuit.keys]
    np.testing.assert_allclose(matrix, np.stack(expected_matrix, 1), rtol=1e-6)
    labels = {k: np.asarray(matrix[:, i], float) for i, k in enumerate(model.circuit.keys)}
    expected = evaluate_circuit(program.circuit, program.labelling.with_values(labels))
    values = model(params, inputs)
    for r, name in enumerate(model.names):
        np.testing.assert_allclose(values[:, r], expected[name], rtol=1e-5, atol=1e-7)
    # the sums 0..6 are a distribution
    np.testing.assert_allclose(values.sum(axis=1), 1.0, rtol=1e-5)
    targets = jnp.array([0, 3, 6])
    nll = model.nll(params, inputs, targets)
    assert float(nll) == pytest.approx(-np.mean(np.log(np.asarray(values)[[0, 1, 2], targets])))


def test_semantic_loss_is_minus_log_of_the_constraint():
    program = compile_program(DIFFERENT, "prob")
    model = NeuralCircuit(program, {"digit": _mlp})
    params = {"digit": _init(jax.random.PRNGKey(1))}
    rng = np.random.default_rng(1)
    inputs = {"a": rng.standard_normal((4, DIM)), "b": rng.standard_normal((4, DIM))}
    pa, pb = (_probs(params["digit"], inputs[n]) for n in "ab")
    different = 1.0 - np.sum(pa * pb, axis=1)
    loss = model.semantic_loss(params, inputs)
    assert float(loss) == pytest.approx(-np.mean(np.log(different)), rel=1e-5)
    grads = jax.grad(model.semantic_loss)(params, inputs)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))


def test_log_space_circuit_gives_log_values():
    """Both digits 0 in logprob, labelled by a log-softmax: log p_a(0) + log p_b(0)."""
    a0, b0 = (atom("digit", (TensorConst(n), 0), "logprob") for n in "ab")
    atoms = [("digit", (TensorConst(n), d)) for n in "ab" for d in DIGITS]
    program = SimpleNamespace(
        circuit=Circuit([apply("times", a0, b0)]), labelling=None, neural=atoms, semantics="logprob"
    )
    model = NeuralCircuit(program, {"digit": _mlp})
    params = {"digit": _init(jax.random.PRNGKey(2))}
    inputs = {n: np.random.default_rng(2).standard_normal((2, DIM)) for n in "ab"}
    pa, pb = (_probs(params["digit"], inputs[n])[:, 0] for n in "ab")
    np.testing.assert_allclose(model.log_values(params, inputs)[:, 0], np.log(pa * pb), 1e-5)
    assert float(model.semantic_loss(params, inputs)) == pytest.approx(-np.mean(np.log(pa * pb)))


def test_neural_labelling_errors_name_the_problem():
    program = compile_program(ADDITION, "prob")
    with pytest.raises(NesyError, match="no network for the neural predicate 'digit'"):
        NeuralCircuit(program, {"other": _mlp})
    keys = [f"digit(tensor({n}),{d})" for n in "ab" for d in DIGITS]
    with pytest.raises(NesyError, match=r"dynamic labels \['other'\] are not neural atoms"):
        NeuralLabelling(program.neural, {"digit": _mlp}, [*keys, "other"])
    with pytest.raises(NesyError, match=r"no dynamic label for the neural atoms \['digit"):
        NeuralLabelling(program.neural, {"digit": _mlp}, keys[1:])
    with pytest.raises(NesyError, match="neural labels in 'godel'"):
        NeuralLabelling(program.neural, {"digit": _mlp}, [], "godel")
    model = NeuralCircuit(program, {"digit": _mlp})
    with pytest.raises(NesyError, match=r"no input tensor for \['b'\]"):
        model({"digit": _init(jax.random.PRNGKey(0))}, {"a": np.zeros((1, DIM))})


def test_a_digit_classifier_learns_from_sum_labels_alone():
    program = compile_program(ADDITION, "prob")
    model = NeuralCircuit(program, {"digit": _mlp})
    sums = [int(name.rsplit(",", 1)[1][:-1]) for name in model.names]
    assert sums == list(range(7))
    rng = np.random.default_rng(0)
    prototypes = rng.standard_normal((len(DIGITS), DIM))
    params = {"digit": _init(jax.random.PRNGKey(0))}
    state = jax.tree.map(jnp.zeros_like, (params, params))

    @jax.jit
    def step(params, state, i, a, b, target):
        loss, grads = jax.value_and_grad(model.nll)(params, {"a": a, "b": b}, target)
        params, state = _adam(params, grads, state, i)
        return params, state, loss

    for i in range(300):
        da, db = rng.integers(0, 4, 32), rng.integers(0, 4, 32)
        a, b = _images(rng, prototypes, da), _images(rng, prototypes, db)
        params, state, loss = step(params, state, i, a, b, da + db)
    test_digits = rng.integers(0, 4, 500)
    predicted = jnp.argmax(_mlp(params["digit"], _images(rng, prototypes, test_digits)), axis=1)
    accuracy = float(jnp.mean(predicted == test_digits))
    assert accuracy > 0.9, (accuracy, float(loss))
