"""Vi-SATNet: feature vectors, masking, the vector layer's gradient and learning, Vi-C."""

from __future__ import annotations

import pytest
import torch

from nesy_models.satnet.torch_mixing import mix_forward
from nesy_models.visatnet import (
    LeNet5,
    ViSATNet,
    ViSATNetError,
    apply_mask,
    cosine_loss,
    feature_map,
    feature_vectors,
    random_mask,
    uniform_vector,
    unit,
    vi_c_agreement,
)
from nesy_models.visatnet.agreement import consistency
from nesy_models.visatnet.training import LayerConfig, train_layer


def test_feature_vectors_follow_eq1_and_invert():
    fmap = torch.randn(2, 16, 5, 5)
    vectors = feature_vectors(fmap)
    assert vectors.shape == (2, 25, 16)
    i = 13  # row 13 // 5 = 2, column 13 % 5 = 3
    assert torch.equal(vectors[1, i], fmap[1, :, 2, 3])
    assert torch.equal(feature_map(vectors, 5, 5), fmap)


def test_lenet5_gives_25_unit_vectors_of_dimension_16():
    vectors = LeNet5().extract(torch.rand(3, 28, 28))
    assert vectors.shape == (3, 25, 16)
    assert torch.allclose(torch.linalg.vector_norm(vectors, dim=-1), torch.ones(3, 25))


def test_unit_maps_zero_to_the_uniform_vector():
    out = unit(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
    assert torch.allclose(out, torch.tensor([[0.6, 0.8], [2**-0.5, 2**-0.5]]))


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.4, 0.8, 1.0])
def test_mask_hides_the_ratio_of_positions(ratio):
    mask = random_mask(50, 25, ratio, torch.Generator().manual_seed(0))
    assert torch.equal(mask.sum(1), torch.full((50,), round(ratio * 25)))
    vectors = unit(torch.randn(50, 25, 4))
    masked = apply_mask(vectors, mask)
    assert torch.equal(masked[~mask], vectors[~mask])
    assert torch.allclose(masked[mask], uniform_vector(4, vectors).expand(int(mask.sum()), 4))


def test_bad_inputs_raise():
    with pytest.raises(ViSATNetError, match="mask ratio"):
        random_mask(1, 5, 1.5)
    layer = ViSATNet(5, 4, 8)
    with pytest.raises(ViSATNetError, match="vectors must be"):
        layer(torch.randn(2, 6, 4), torch.zeros(2, 6, dtype=torch.bool))
    nan = torch.full((1, 5, 4), float("nan"))
    with pytest.raises(ViSATNetError, match="NaN"):
        layer(nan, torch.zeros(1, 5, dtype=torch.bool))


def test_given_vectors_pass_through_and_outputs_are_unit():
    layer = ViSATNet(6, 4, 8)
    vectors = unit(torch.randn(3, 6, 4))
    mask = random_mask(3, 6, 0.5, torch.Generator().manual_seed(0))
    out = layer(vectors, mask)
    assert torch.equal(out[~mask], vectors[~mask])
    assert torch.allclose(torch.linalg.vector_norm(out, dim=-1), torch.ones(3, 6), atol=1e-5)


def test_implicit_gradient_matches_unrolled_autograd():
    layer = ViSATNet(6, 4, 8, max_iter=500, eps=1e-12).double()
    vectors = unit(
        torch.randn(3, 6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    )
    target = unit(
        torch.randn(3, 6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    )
    mask = random_mask(3, 6, 0.5, torch.Generator().manual_seed(3))
    cosine_loss(layer(vectors, mask), target, mask).backward()
    S = layer.S.detach().clone().requires_grad_(True)
    uniform = uniform_vector(4, S).expand(3, 1, 4)
    axes = torch.eye(4, dtype=torch.float64).expand(3, 4, 4)
    full = torch.cat([uniform, torch.where(mask.unsqueeze(-1), uniform, vectors), axes], 1)
    free = torch.cat([torch.zeros(3, 1, dtype=torch.bool), mask, torch.zeros(3, 4, dtype=bool)], 1)
    solved, _ = mix_forward(S, full, free, 500, 1e-12, differentiable=True)
    cosine_loss(solved[:, 1:7], target, mask).backward()
    assert torch.allclose(layer.S.grad, S.grad, atol=1e-8)


def test_cosine_loss_decreases_on_a_tiny_synthetic_set():
    # vectors that come in two correlated halves: the rule "second half = first half" is learnable
    g = torch.Generator().manual_seed(0)
    half = unit(torch.randn(40, 3, 4, generator=g))
    data = torch.cat([half, half], 1)
    config = LayerConfig(m=16, epochs=5, batch_size=16, lr=3e-2, mask_ratio=0.3, max_iter=20)
    _, history = train_layer(data[:32], data[32:], config, seed=0)
    assert history["train"][-1] < 0.7 * history["train"][0]
    assert history["val"][-1] < history["val"][0]


def test_vi_c_equals_the_head_on_unmasked_inputs():
    model = LeNet5().eval()
    vectors = model.extract(torch.rand(8, 28, 28)).detach()
    layers = [ViSATNet(25, 16, 8, seed=c) for c in range(10)]
    mask = torch.zeros(8, 25, dtype=torch.bool)
    predicted = vi_c_agreement(layers, model.classify, vectors, mask)
    assert torch.equal(predicted, model.classify(vectors).argmax(-1))


class _FillLayer(torch.nn.Module):
    """A stand-in layer: fills masked position 0 with the basis vector e_label, and the other
    masked positions with e_label too, or with the true vectors (``knows``)."""

    def __init__(self, label: int, truth: torch.Tensor, knows: bool):
        super().__init__()
        self.label, self.truth, self.knows = label, truth, knows

    def forward(self, vectors, mask):
        basis = torch.eye(vectors.shape[-1])[self.label].expand_as(vectors)
        fill = torch.where(mask.unsqueeze(-1), self.truth if self.knows else basis, vectors)
        fill[:, 0] = basis[:, 0]
        return fill


def test_consistency_breaks_the_tie_between_agreeing_classes():
    g = torch.Generator().manual_seed(0)
    truth = unit(torch.randn(6, 25, 16, generator=g))
    layers = [_FillLayer(label, truth, knows=label == 3) for label in range(10)]
    classify = lambda maps: 100.0 * maps[:, 0, :10]  # noqa: E731 - every layer's map agrees
    mask = torch.zeros(6, 25, dtype=torch.bool)
    mask[:, :20] = True
    by_consistency = vi_c_agreement(layers, classify, truth, mask)
    assert torch.equal(by_consistency, torch.full((6,), 3))
    scores = consistency(layers, truth, mask, probes=25)
    assert torch.allclose(scores[3], torch.ones(6))
    # leave-one-out by hand for layer 0: each visible vector against e_0
    expected = truth[:, 20:, 0].mean(1)
    assert torch.allclose(scores[0], expected)
    with pytest.raises(ViSATNetError, match="unknown tie-break 'vote'"):
        vi_c_agreement(layers, classify, truth, mask, tie_break="vote")
