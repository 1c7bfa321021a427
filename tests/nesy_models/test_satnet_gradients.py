"""The torch SATNet layer: implicit gradients against finite differences and unrolled autograd."""

import pytest
import torch

from nesy_models.satnet import SATNet, satnet_solve, satnet_unrolled
from nesy_models.satnet.instances import random_instance

TIGHT = {"max_iter": 1000, "eps": 1e-12}  # converged to rounding on these small instances


def _instance(seed, batch=3, n=6, m=8, k=4):
    """A small float64 problem: S (n+1, m), z, is_input (batch, n), init (batch, n+1, k)."""
    return random_instance(seed, batch, n, m, k, scale=0.5)


@pytest.mark.parametrize("seed", [0, 2])
def test_gradients_match_finite_differences(seed):
    S, z, is_input, init = _instance(seed)
    S.requires_grad_(), z.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda S_, z_: satnet_solve(S_, z_, is_input, init, **TIGHT),
        (S, z),
        eps=1e-6,
        atol=1e-7,
        rtol=1e-5,
    )


@pytest.mark.parametrize("seed", [3, 4])
def test_implicit_backward_matches_unrolled_autograd(seed):
    S, z, is_input, init = _instance(seed, 4, 8, 12, 5)
    weights = torch.randn(4, 8, generator=torch.Generator().manual_seed(seed), dtype=S.dtype)
    grads = []
    for solve in (satnet_solve, satnet_unrolled):
        S_, z_ = S.clone().requires_grad_(), z.clone().requires_grad_()
        out = solve(S_, z_, is_input, init, **TIGHT)
        grads.append((out, *torch.autograd.grad((out * weights).sum(), (S_, z_))))
    for implicit, unrolled in zip(*grads, strict=True):
        torch.testing.assert_close(implicit, unrolled, atol=1e-9, rtol=1e-7)


def test_given_values_pass_through_and_outputs_are_probabilities():
    S, z, is_input, init = _instance(5, batch=6)
    out = satnet_solve(S, z, is_input, init)
    assert torch.equal(out[is_input], z[is_input])
    assert ((out >= 0) & (out <= 1)).all()


def test_batch_elements_are_solved_independently():
    S, z, is_input, init = _instance(6, batch=5)
    together = satnet_solve(S, z, is_input, init, max_iter=7, eps=1e-3)
    alone = torch.cat(
        [
            satnet_solve(S, z[b : b + 1], is_input[b : b + 1], init[b : b + 1], 7, 1e-3)
            for b in range(5)
        ]
    )
    torch.testing.assert_close(together, alone, atol=1e-12, rtol=0)


def test_module_is_deterministic_for_a_seed():
    z = torch.rand(4, 5, generator=torch.Generator().manual_seed(0))
    is_input = torch.tensor([[True, False, True, False, False]]).expand(4, 5)
    runs = []
    for seed in (7, 7, 8):
        layer = SATNet(5, 8, aux=2, seed=seed)
        runs.append((layer.S.detach().clone(), layer(z, is_input), layer(z, is_input)))
    for first, again in zip(runs[0], runs[1], strict=True):
        assert torch.equal(first, again)
    assert not torch.equal(runs[0][0], runs[2][0])
    assert not torch.equal(runs[0][1], runs[0][2])  # fresh random vectors on every call


def test_module_matches_functional_core_with_aux_variables():
    layer = SATNet(4, 8, aux=3, k=5, seed=1, dtype=torch.float64, **TIGHT)
    z = torch.rand(2, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    is_input = torch.tensor([[True, True, False, False], [False, True, True, False]])
    init = layer.random_init(2)
    out = layer(z, is_input, init=init)
    full = satnet_solve(
        layer.S,
        torch.cat([z, torch.zeros(2, 3, dtype=z.dtype)], 1),
        torch.cat([is_input, torch.zeros(2, 3, dtype=torch.bool)], 1),
        init,
        **TIGHT,
    )
    torch.testing.assert_close(out, full[:, :4])
    assert layer.k == 5 and SATNet(4, 8, aux=3).k == 5  # ceil(sqrt(16)) + 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    S, z, is_input, init = _instance(9)
    results = []
    for device in ("cpu", "cuda"):
        S_, z_ = S.to(device).requires_grad_(), z.to(device).requires_grad_()
        out = satnet_solve(S_, z_, is_input.to(device), init.to(device), **TIGHT)
        out.sum().backward()
        results.append([t.cpu() for t in (out, S_.grad, z_.grad)])
    for cpu, cuda in zip(*results, strict=True):
        torch.testing.assert_close(cpu, cuda, atol=1e-9, rtol=1e-7)
