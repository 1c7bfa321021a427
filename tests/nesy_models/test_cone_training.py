"""Training on the observed values' cones gives the loss and gradients of the whole circuit."""

import pytest

torch = pytest.importorskip("torch")

from nesy_models.models import torch_model  # noqa: E402
from nesy_models.models.torch_model import TaskModel  # noqa: E402
from nesy_models.tasks import mnist_addition  # noqa: E402
from nesy_models.tasks.sudoku import sudoku  # noqa: E402

CASES = [
    (lambda: mnist_addition(1), "prob", "architecture"),
    (lambda: mnist_addition(2, "carry"), "prob", "loss"),  # three groups, a head beside
    (lambda: mnist_addition(1), "godel", "architecture"),
    (lambda: mnist_addition(1), "prob-fuzzy", "architecture"),  # samples of labels
    (sudoku, "prob", "architecture"),  # "invalid" scored by the complement of "valid"
]


def _loss_and_grads(model, images, targets, observed: bool):
    torch.manual_seed(0)  # the same label samples for prob-fuzzy
    out = model(images, targets=targets if observed else None)
    assert (out.observed is not None) == observed and (out.scores is None) == observed
    loss = model.loss(out, targets)
    grads = torch.autograd.grad(loss, list(model.net.parameters()))
    return loss, grads


@pytest.mark.parametrize(("make", "semantics", "logic"), CASES)
def test_observed_scores_give_the_whole_circuits_loss(make, semantics, logic, monkeypatch):
    monkeypatch.setattr(torch_model, "CONE_EDGES", 0)
    task = make()
    torch.manual_seed(1)
    model = TaskModel(task, semantics, logic).double()
    assert model.cone is not None
    images = torch.rand(6, len(task.terms), 28, 28, dtype=torch.float64)
    sizes = torch.as_tensor(model.group_sizes)
    targets = (torch.rand(6, len(sizes)) * sizes).long()
    loss, grads = _loss_and_grads(model, images, targets, observed=True)
    want, want_grads = _loss_and_grads(model, images, targets, observed=False)
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, want, rtol=1e-10, atol=1e-12)
    for got, expected in zip(grads, want_grads, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-12)


def test_large_circuits_train_on_cones_by_default():
    model = TaskModel(mnist_addition(4))  # 125,290 edges, 19,999 sums
    small = TaskModel(mnist_addition(1))
    assert model.cone is not None and small.cone is None
    images, targets = torch.rand(3, 8, 28, 28), torch.tensor([[0], [9999], [19998]])
    loss = model.loss(model(images, targets=targets), targets)
    torch.testing.assert_close(loss, model.loss(model(images), targets))
