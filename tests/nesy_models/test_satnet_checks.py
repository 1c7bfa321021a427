"""Bad input to the SATNet layers raises a SATNetError ; degenerate solves warn."""

import math

import pytest
import torch

from nesy_models.satnet import SATNet, SATNetError, SATNetWarning, satnet_solve


@pytest.mark.parametrize(
    ("value", "message"), [(math.nan, "finite and in \\[0, 1\\]"), (1.5, "variable 2")]
)
def test_bad_given_probability_raises(value, message):
    layer = SATNet(4, 8)
    z = torch.full((2, 4), 0.5)
    z[1, 2] = value
    with pytest.raises(SATNetError, match=message):
        layer(z, torch.ones(2, 4, dtype=torch.bool))


def test_values_that_are_not_given_are_ignored():
    layer = SATNet(4, 8)
    z = torch.tensor([[0.2, math.nan, 7.0, 0.9]])
    is_input = torch.tensor([[True, False, False, True]])
    out = layer(z, is_input)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert torch.isfinite(layer.S.grad).all() and layer.S.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("z_shape", "mask_shape", "message"),
    [((2, 3), (2, 3), "shape \\(batch, 4\\)"), ((2, 4), (2, 5), "shape of z")],
)
def test_shape_mismatch_raises(z_shape, mask_shape, message):
    with pytest.raises(SATNetError, match=message):
        SATNet(4, 8)(torch.rand(z_shape), torch.ones(mask_shape, dtype=torch.bool))


def test_bad_init_shape_raises():
    S = torch.randn(5, 8)
    with pytest.raises(SATNetError, match="init must have shape"):
        satnet_solve(S, torch.rand(2, 4), torch.ones(2, 4, dtype=torch.bool), torch.randn(2, 4, 3))


@pytest.mark.parametrize("kwargs", [{"n": 0, "m": 4}, {"n": 3, "m": 4, "k": 1}, {"n": 3, "m": 0}])
def test_bad_sizes_raise(kwargs):
    with pytest.raises(SATNetError, match="needs n, m"):
        SATNet(**kwargs)


def test_zero_gradient_norm_warns_forward_and_raises_backward():
    S = torch.randn(5, 8, dtype=torch.float64)
    S[3] = 0.0  # variable 3 is in no clause: nothing constrains it
    S.requires_grad_()
    z, is_input = torch.full((2, 4), 0.5, dtype=torch.float64), torch.zeros(2, 4, dtype=torch.bool)
    init = torch.randn(2, 5, 4, dtype=torch.float64)
    with pytest.warns(SATNetWarning, match="variable 3 of batch element 0 has a zero gradient"):
        out = satnet_solve(S, z, is_input, init)
    assert torch.isfinite(out).all()
    with pytest.raises(SATNetError, match="not differentiable"):
        out.sum().backward()


def test_non_finite_clause_matrix_raises():
    S = torch.randn(5, 8)
    S[2, 3] = math.inf
    with pytest.raises(SATNetError, match="non-finite value"):
        satnet_solve(S, torch.rand(1, 4), torch.zeros(1, 4, dtype=torch.bool), torch.randn(1, 5, 4))


def test_output_on_the_truth_axis_pulled_back_warns():
    # One variable in one clause (x1): the solve puts v_1 exactly on v_0, z = 1.
    S = torch.tensor([[-1.0], [1.0]], dtype=torch.float64).requires_grad_()
    init = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]], dtype=torch.float64)
    out = satnet_solve(S, torch.zeros(1, 1), torch.zeros(1, 1, dtype=torch.bool), init)
    assert out.item() == pytest.approx(1.0)
    with pytest.warns(SATNetWarning, match="truth axis"):
        out.sum().backward()  # the loss wants z smaller: the gradient is lost there
    assert torch.equal(S.grad, torch.zeros_like(S))
