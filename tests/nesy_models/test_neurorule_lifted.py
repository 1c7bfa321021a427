"""NeuroRule's chain body is the IR's lifted formula: ``smoothmax Y, W: s1(X, Y) * s2(Y, W) *
s3(W, Z)`` in the smooth-maximum structure (values log-truths), evaluated by nesy-torch's lifted
plan, equals the model's log-matmul-exp chain, at every temperature, with the same gradients."""

from __future__ import annotations

import pytest
import torch
from tests.lifted_strategies import TEMPERATURES, smoothmax_registered  # noqa: F401 (a fixture)

from nesy_ir import Var, aggregate, apply, atom
from nesy_ir.lifted import SMOOTHMAX_TEMPERATURE, lifted_plan
from nesy_models.neurorule import chain_log_body
from nesy_torch import evaluate_plan

ENTITIES = 6
#: every registered smooth maximum (the default, tau = 0.1, first) and its temperature
TAUS = {"smoothmax": SMOOTHMAX_TEMPERATURE, **TEMPERATURES}


def chain_formula(structure: str, length: int):
    """The body of a chain rule of ``length`` slots s0..s(k-1) between X and Z."""
    names = ["X", *(f"Y{i}" for i in range(1, length)), "Z"]
    steps = [atom(f"s{i}", (Var(names[i]), Var(names[i + 1])), structure) for i in range(length)]
    body = steps[0] if length == 1 else apply("times", *steps)
    for name in names[1:-1]:
        body = aggregate("plus", name, tuple(range(ENTITIES)), body)
    return body


@pytest.mark.parametrize("structure", TAUS)
@pytest.mark.parametrize("length", [1, 2, 3, 4])
def test_the_chain_body_is_the_lifted_smooth_maximum(structure, length):
    tau = TAUS[structure]
    generator = torch.Generator().manual_seed(length)
    truths = torch.rand(length, ENTITIES, ENTITIES, generator=generator, dtype=torch.float64)
    log_slots = (0.05 + 0.95 * truths).log().requires_grad_()
    plan = lifted_plan(chain_formula(structure, length), {"X": ENTITIES, "Z": ENTITIES})
    lifted = evaluate_plan(plan, {f"s{i}": log_slots[i][None] for i in range(length)})[0]
    (lifted_grad,) = torch.autograd.grad(lifted.sum(), log_slots)
    model = chain_log_body(log_slots, tau)
    (model_grad,) = torch.autograd.grad(model.sum(), log_slots)
    torch.testing.assert_close(lifted, model, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(lifted_grad, model_grad, rtol=1e-8, atol=1e-10)
