"""The JAX model against the torch one: the same losses on the same weights, every semantics and
logic placement; prob-fuzzy sampling; exact checkpoint resume."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from nesy_ir.errors import NesyError
from nesy_models.learners import TrainConfig
from nesy_models.models import TaskModel
from nesy_models.options import LOGIC, SEMANTICS
from nesy_models.tasks import mnist_addition

from .test_training import addition_splits

jax_model = pytest.importorskip("nesy_models.models.jax_model")
jax_training = pytest.importorskip("nesy_models.learners.jax_training")


def jax_params_of(model: TaskModel) -> dict:
    """The torch model's weights in the JAX model's layout (dense weights transposed)."""
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    names = {
        "conv1": "net.encoder.0",
        "conv2": "net.encoder.3",
        "fc1": "net.features.0",
        "fc2": "net.features.2",
        "out": "net.classifier.1",
        "head1": "head.net.1",
        "head2": "head.net.3",
    }
    params = {}
    for name, prefix in names.items():
        if f"{prefix}.weight" in state:
            w = state[f"{prefix}.weight"]
            params[name] = {
                "w": w if name.startswith("conv") else w.T,
                "b": state[f"{prefix}.bias"],
            }
    return params


@pytest.mark.parametrize("semantics", SEMANTICS)
@pytest.mark.parametrize("logic", LOGIC)
def test_jax_loss_equals_the_torch_loss_on_the_same_weights(semantics, logic):
    torch.manual_seed(0)
    task = mnist_addition(1)
    model = TaskModel(task, semantics, logic).eval()  # prob-fuzzy: the mean labels
    other = jax_model.JaxTaskModel(task, semantics, logic)
    train, _ = addition_splits(model, task, images=64)
    images, targets = train.batch(np.arange(16))
    with torch.no_grad():
        out = model(images)
        expected = model.loss(out, targets).item()
        predicted = model.predict(out).numpy()
    params = jax_params_of(model)
    assert float(other.loss(params, images.numpy(), targets.numpy())) == pytest.approx(
        expected, rel=1e-4
    )
    np.testing.assert_array_equal(np.asarray(other.predict(params, images.numpy())), predicted)


def test_logic_in_the_loss_adds_the_formula_nll_to_the_head_nll():
    torch.manual_seed(0)
    task = mnist_addition(1)
    model = TaskModel(task, logic="loss")
    train, _ = addition_splits(model, task, images=64)
    images, targets = train.batch(np.arange(16))
    out = model(images)
    formula = -out.scores.gather(1, targets).log().mean()
    head = torch.nn.functional.cross_entropy(out.logits, targets[:, 0])
    torch.testing.assert_close(model.loss(out, targets), formula + head)


def test_prob_fuzzy_samples_lie_on_the_simplex_and_train():
    task = mnist_addition(1)
    model = jax_model.JaxTaskModel(task, "prob-fuzzy")
    train, _ = addition_splits(model, task, images=64)
    images, targets = train.examples.gather(np.arange(16)), train.targets[:16]
    params = model.init(0)
    key = jax_model.jax.random.PRNGKey(0)
    a = float(model.loss(params, images, targets, key))
    b = float(model.loss(params, images, targets, jax_model.jax.random.PRNGKey(1)))
    assert a != b and np.isfinite(a)  # sampled: the key matters
    grads = jax_model.jax.grad(model.loss)(params, images, targets, key)
    assert np.abs(np.asarray(grads["out"]["w"])).sum() > 0  # the gradient reaches the network


def test_jax_checkpoint_resume_continues_exactly(tmp_path):
    task = mnist_addition(1)
    model = jax_model.JaxTaskModel(task, "prob-fuzzy")  # sampling keys and shifts must resume too
    train, val = addition_splits(model, task, images=200)

    def trained(epochs, checkpoint=None):
        config = TrainConfig(
            epochs=epochs, progress=False, checkpoint=checkpoint, patience=99, augment=2
        )
        return jax_training.fit_jax(model, train, val, config)

    straight, _ = trained(2)
    checkpoint = tmp_path / "run.pkl"
    trained(1, checkpoint)
    resumed, history = trained(2, checkpoint)
    assert len(history.epochs) == 2
    flat = jax_model.jax.tree_util.tree_leaves
    for a, b in zip(flat(straight), flat(resumed), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_jax_resume_from_a_foreign_checkpoint_is_a_clear_error(tmp_path):
    checkpoint = tmp_path / "other.pkl"
    checkpoint.write_bytes(pickle.dumps({"jax": {"weird": np.zeros(1)}, "history": {}}))
    model = jax_model.JaxTaskModel(mnist_addition(1))
    train, val = addition_splits(model, model.task, images=40)
    with pytest.raises(NesyError, match="cannot resume from checkpoint"):
        jax_training.fit_jax(model, train, val, TrainConfig(progress=False, checkpoint=checkpoint))
    assert checkpoint.exists()


@pytest.mark.parametrize("centre", [True, False])
def test_jax_centres_the_images_as_torch_does(centre):
    torch.manual_seed(0)
    task = mnist_addition(1)
    model = TaskModel(task, centre_images=centre).eval()
    other = jax_model.JaxTaskModel(task, centre_images=centre)
    train, _ = addition_splits(model, task, images=64)
    images, targets = train.batch(np.arange(16))
    with torch.no_grad():
        expected = model.loss(model(images), targets).item()
    params = jax_params_of(model)
    loss = float(other.loss(params, images.numpy(), targets.numpy()))
    assert loss == pytest.approx(expected, rel=1e-4)
    uncentred = jax_model.JaxTaskModel(task, centre_images=not centre)
    assert float(uncentred.loss(params, images.numpy(), targets.numpy())) != pytest.approx(loss)
    digits = images.flatten(0, 1).numpy()
    np.testing.assert_array_equal(other.classify(params, digits), model.classify(digits))


@pytest.mark.parametrize("centre", [True, False])
def test_a_jax_run_gets_the_recipe_options(centre, monkeypatch):
    from nesy_models.experiment import RunConfig, run

    seen = {}
    real_fit = jax_training.fit_jax

    def fit_recording(model, train, val, config):
        seen["centre"], seen["weight_decay"] = model.centre, config.weight_decay
        return real_fit(model, train, val, config)

    monkeypatch.delenv("NESY_DATA", raising=False)
    monkeypatch.setattr(jax_training, "fit_jax", fit_recording)
    config = RunConfig(
        backend="jax", train_size=32, progress=False, centre_images=centre, weight_decay=0.05
    )
    run(config)
    assert seen == {"centre": centre, "weight_decay": 0.05}
