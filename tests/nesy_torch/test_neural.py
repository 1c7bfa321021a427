"""Neural labelling: a network trained only through a circuit, and the semantic loss."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pysdd")

from torch import nn  # noqa: E402

from nesy_compile import compile_program  # noqa: E402
from nesy_ir.errors import NesyError  # noqa: E402
from nesy_torch import NeuralCircuit, NeuralLabelling  # noqa: E402

ADDITION = """nn(net, [X], Y, [0,1,2,3]) :: digit(X, Y).
add(X, Y, Z) :- digit(X, A), digit(Y, B), Z is A + B.
query(add(tensor(a), tensor(b), Z)).
"""
CONSTRAINT = """nn(net, [X], Y, [0,1,2,3]) :: digit(X, Y).
same :- digit(tensor(a), Y), digit(tensor(b), Y).
query(same).
"""
DIM, CLASSES = 16, 4


def _images(generator: torch.Generator, prototypes: torch.Tensor, digits: torch.Tensor):
    noise = 0.6 * torch.randn(len(digits), DIM, generator=generator)
    return prototypes[digits] + noise


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(DIM, 32), nn.ReLU(), nn.Linear(32, CLASSES))


def test_labelling_puts_each_network_output_under_its_atom():
    program = compile_program(ADDITION)
    keys = [f"digit(tensor({t}),{y})" for t in "ba" for y in range(CLASSES)]
    scores = {"a": torch.tensor([[0.0, 1.0, 2.0, 3.0]]), "b": torch.tensor([[3.0, 0.0, 0.0, 0.0]])}
    labelling = NeuralLabelling(program.neural, {"digit": nn.Identity()}, keys)
    out = labelling(scores)
    expected = torch.cat([torch.softmax(scores["b"], 1), torch.softmax(scores["a"], 1)], 1)
    torch.testing.assert_close(out, expected)
    with pytest.raises(NesyError, match="no network for the neural predicate 'digit'"):
        NeuralLabelling(program.neural, {}, keys)
    with pytest.raises(NesyError, match=r"no input tensor for \['b'\]"):
        labelling({"a": scores["a"]})


def test_a_digit_classifier_learns_from_sums_alone():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    prototypes = 1.5 * torch.randn(CLASSES, DIM, generator=generator)
    program = compile_program(ADDITION)
    model = NeuralCircuit(program, {"digit": _net()})
    root = {name: i for i, name in enumerate(model.names)}
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        da, db = (torch.randint(0, CLASSES, (32,), generator=generator) for _ in range(2))
        inputs = {"a": _images(generator, prototypes, da), "b": _images(generator, prototypes, db)}
        target = torch.tensor([root[f"add(tensor(a),tensor(b),{s})"] for s in (da + db).tolist()])
        loss = model.nll(inputs, target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    digits = torch.randint(0, CLASSES, (500,), generator=generator)
    predicted = model.labelling.networks["digit"](_images(generator, prototypes, digits)).argmax(1)
    assert (predicted == digits).float().mean() > 0.9


def test_semantic_loss_reduces_constraint_violation():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    prototypes = 1.5 * torch.randn(CLASSES, DIM, generator=generator)
    model = NeuralCircuit(compile_program(CONSTRAINT), {"digit": _net()})
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)

    def batch():
        digits = torch.randint(0, CLASSES, (2, 64), generator=generator)
        return {
            "a": _images(generator, prototypes, digits[0]),
            "b": _images(generator, prototypes, digits[1]),
        }

    test = batch()
    with torch.no_grad():
        before = model(test)[:, 0].mean().item()
    for _ in range(100):
        loss = model.semantic_loss(batch(), "same")
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        after = model(test)[:, 0].mean().item()
    assert after > 0.9 and after > before + 0.3
