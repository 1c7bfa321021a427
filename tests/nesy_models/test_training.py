"""Training through circuits: learning, every variant, checkpoints, data parallelism, the CLI."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch
from tests.nesy_compile.test_linear_sum import sum_law

from nesy_ir.errors import NesyError
from nesy_models.data import DigitImages, addition_dataset, sudoku_dataset
from nesy_models.experiment import digit_accuracy
from nesy_models.learners import Split, TrainConfig, evaluate, fit, learning_rate
from nesy_models.models import LeNet, TaskModel
from nesy_models.options import LOGIC, SEMANTICS
from nesy_models.tasks import mnist_addition, sudoku


def generated_digits(n: int, seed: int, noise: float = 0.3) -> DigitImages:
    """Easy digit images: one random binary prototype per class plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    prototypes = (np.random.default_rng(1234).random((10, 28, 28)) < 0.3).astype(np.float32)
    labels = np.arange(n) % 10
    images = prototypes[labels] + noise * rng.standard_normal((n, 28, 28)).astype(np.float32)
    return DigitImages(np.clip(images, 0, 1).astype(np.float32), labels.astype(np.int64), "test")


def splits(model, task, data_fn, seeds=(0, 1)):
    return [Split.of(task, model.groups, data_fn(seed)) for seed in seeds]


def addition_splits(model, task, images: int = 600):
    return splits(model, task, lambda s: addition_dataset(generated_digits(images, s), 1, s))


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_mnist_addition_learns_well_above_chance(backend):
    task = mnist_addition(1)
    config = TrainConfig(epochs=3, batch_size=16, lr=1e-2, progress=False, seed=0)
    if backend == "torch":
        torch.manual_seed(0)
        model = TaskModel(task)
        train, test = addition_splits(model, task, images=1200)
        fit(model, train, test, config)
        accuracy = evaluate(model, test)["accuracy"]
        classify = model.classify
    else:
        jax_model = pytest.importorskip("nesy_models.models.jax_model")
        jax_training = pytest.importorskip("nesy_models.learners.jax_training")
        model = jax_model.JaxTaskModel(task)
        train, test = addition_splits(model, task, images=1200)
        params, _ = jax_training.fit_jax(model, train, test, config)
        accuracy = jax_training.evaluate_jax(model, params, test)["accuracy"]
        classify = functools.partial(model.classify, params)
    assert accuracy > 0.35  # chance: about 0.1 (the most frequent of 19 sums)
    # the digits behind the sums, learned from the sums alone (chance 0.1)
    assert digit_accuracy(classify, generated_digits(500, 7)) > 0.5


def test_digit_accuracy_counts_right_classes_over_all_batches():
    labels = np.arange(250) % 10  # 25 of each class
    images = np.zeros((250, 28, 28), np.float32)
    images[:, 0, 0] = labels / 10
    digits = DigitImages(images, labels, "test")
    assert digit_accuracy(lambda x: np.full(len(x), 3), digits, batch_size=64) == 0.1
    # reads the class back, but calls every 9 an 8
    assert digit_accuracy(lambda x: np.rint(x[:, 0, 0] * 10).clip(0, 8), digits, 64) == 0.9


#: Lukasiewicz's conjunction max(0, a + b - 1) is flat at 0 for an untrained network's spread
#: out digits: no gradient reaches it through the circuit alone (source 003 sec. 7, RQ 2).
VANISHING = {("lukasiewicz", "architecture")}


@pytest.mark.parametrize("semantics", SEMANTICS)
@pytest.mark.parametrize("logic", LOGIC)
def test_every_semantics_and_logic_placement_trains(semantics, logic):
    """A few steps on one batch lower its loss (the gradient reaches the network), except where
    the semantics has a vanishing derivative; the loss is finite in every case."""
    torch.manual_seed(0)
    task = mnist_addition(1)
    model = TaskModel(task, semantics, logic)
    train, _ = addition_splits(model, task, images=64)
    images, targets = train.batch(np.arange(16))
    optimiser = torch.optim.Adam(model.parameters(), 3e-3)
    before = model.loss(model(images), targets).item()
    for _ in range(15):
        loss = model.loss(model(images), targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    after = model.loss(model(images), targets).item()
    assert np.isfinite(before) and np.isfinite(after)
    if (semantics, logic) in VANISHING:
        assert after == pytest.approx(before)
    else:
        assert after < before


def test_sudoku_scores_are_a_distribution_over_valid_and_invalid():
    torch.manual_seed(0)
    task = sudoku()
    model = TaskModel(task)
    train, _ = splits(model, task, lambda s: sudoku_dataset(generated_digits(200, s), 8, s))
    out = model(train.batch(np.arange(8))[0])
    np.testing.assert_allclose(out.scores.sum(1).detach().numpy(), 1.0, rtol=1e-5)


def test_carry_encoding_reads_digits_least_significant_first():
    """With a network that is sure of the true digits, every digit of the sum is right."""
    task = mnist_addition(2, "carry")
    model = TaskModel(task)
    data = addition_dataset(generated_digits(400, 0), 2, 0)
    split = Split.of(task, model.groups, data)
    rows = np.arange(20)
    true_digits = data.digits[rows][:, list(task.image_order)]  # (B, P) in term order
    probs = torch.nn.functional.one_hot(torch.as_tensor(true_digits), 10).float()
    x = probs.flatten(1)[:, model.label_index]
    values = model.circuit.matrix(x)[:, model.value_root]
    predicted = torch.stack([p.argmax(1) for p in values.split(model.group_sizes, 1)], 1)
    assert (predicted.numpy() == split.targets[rows]).all()


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_standard_four_digit_sums_are_the_law_of_the_two_numbers(backend):
    """Beyond grounding (N = 4: 10^8 proofs), the linear-sum circuit gives each sum's
    probability from the network's digits, the most significant image first; the true sum is
    the answer of a network sure of the true digits."""
    task = mnist_addition(4)
    assert task.compiled("prob").stats["compiler"] == "linear-sum"
    torch.manual_seed(0)
    model = TaskModel(task).eval()
    data = addition_dataset(generated_digits(400, 0), 4, 0)
    split = Split.of(task, model.groups, data)
    images, targets = split.batch(np.arange(3))
    if backend == "torch":
        with torch.no_grad():
            out = model(images)
        digits, scores = out.digits.numpy(), out.scores.numpy()
    else:
        jax_model = pytest.importorskip("nesy_models.models.jax_model")
        from .test_jax_model import jax_params_of

        other = jax_model.JaxTaskModel(task)
        digits, scores, _ = map(np.asarray, other.forward(jax_params_of(model), images.numpy()))
    for row in range(3):
        expected = sum_law(digits[row, :4], digits[row, 4:])
        np.testing.assert_allclose(scores[row], expected, rtol=1e-3, atol=1e-9)
    sure = torch.nn.functional.one_hot(torch.as_tensor(data.digits[:20]), 10).float()
    roots = model.circuit.matrix(sure.flatten(1)[:, model.label_index])
    assert (roots.argmax(1).numpy() == split.targets[:20, 0]).all()


@pytest.mark.parametrize("semantics", ["prob", "godel"])
def test_linear_sum_and_grounded_circuits_score_sums_alike(semantics):
    """The standard encoding's two compilers give every sum the same value (N = 2)."""
    shared, grounded = mnist_addition(2), mnist_addition(2, compiler="grounding")
    assert shared.compiled(semantics).stats["compiler"] == "linear-sum"
    assert "compiler" not in grounded.compiled(semantics).stats
    probs = torch.softmax(torch.randn(5, 4, 10, generator=torch.Generator().manual_seed(0)), -1)
    scores = []
    for task in (shared, grounded):
        model = TaskModel(task, semantics).double().eval()
        x = probs.double().flatten(1)[:, model.label_index]
        scores.append(model.circuit.matrix(x)[:, model.value_root])
    assert scores[0].shape == (5, 199)
    torch.testing.assert_close(scores[0], scores[1], rtol=1e-12, atol=1e-15)


def test_compilers_outside_their_semantics_say_what_to_use():
    with pytest.raises(NesyError, match="use --compiler grounding or auto"):
        mnist_addition(1, compiler="linear-sum").compiled("product")
    auto = mnist_addition(1).compiled("product")  # grounding, where the linear sum cannot
    assert "compiler" not in auto.stats
    with pytest.raises(NesyError, match="unknown compiler 'sdd'"):
        mnist_addition(1, compiler="sdd")


@pytest.mark.parametrize("semantics", ["product", "lukasiewicz"])
def test_standard_four_digits_under_other_t_norms_say_what_to_use(semantics):
    with pytest.raises(NesyError, match="--digits 3 or less, or --encoding carry"):
        mnist_addition(4).compiled(semantics)


def test_checkpoint_resume_continues_exactly(tmp_path):
    task = mnist_addition(1)

    def trained(epochs, checkpoint=None):
        torch.manual_seed(0)
        model = TaskModel(task)
        train, val = addition_splits(model, task, images=200)
        config = TrainConfig(
            epochs=epochs, progress=False, checkpoint=checkpoint, patience=99, augment=2
        )
        history = fit(model, train, val, config)
        return model, history

    straight, _ = trained(2)
    checkpoint = tmp_path / "run.pt"
    trained(1, checkpoint)
    resumed, history = trained(2, checkpoint)
    assert len(history.epochs) == 2
    for (name, a), b in zip(
        straight.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def test_cosine_schedule_runs_from_lr_to_zero_on_both_backends():
    jnp = pytest.importorskip("jax.numpy")
    config = TrainConfig(epochs=2, lr=0.1, schedule="cosine")
    steps = [learning_rate(config, step, 10) for step in (0, 10, 20)]
    np.testing.assert_allclose(steps, [0.1, 0.05, 0.0], atol=1e-12)
    traced = [float(learning_rate(config, jnp.asarray(s), 10, jnp)) for s in (0, 5, 20)]
    np.testing.assert_allclose(traced, [learning_rate(config, s, 10) for s in (0, 5, 20)])
    assert learning_rate(TrainConfig(lr=0.1), 7, 10) == 0.1
    with pytest.raises(NesyError, match="unknown learning-rate schedule 'step'"):
        learning_rate(TrainConfig(schedule="step"), 0, 10)


def test_resume_from_a_foreign_checkpoint_is_a_clear_error(tmp_path):
    checkpoint = tmp_path / "other.pt"
    torch.save({"model": {"weird": torch.zeros(1)}}, checkpoint)
    model = TaskModel(mnist_addition(1))
    train, val = addition_splits(model, model.task, images=40)
    with pytest.raises(NesyError, match="cannot resume from checkpoint"):
        fit(model, train, val, TrainConfig(progress=False, checkpoint=checkpoint))
    assert checkpoint.exists()  # nothing the user saved is lost


def test_resume_with_another_compiler_names_the_options(tmp_path):
    checkpoint = tmp_path / "run.pt"

    def run(compiler: str):
        task = mnist_addition(2, compiler=compiler)
        model = TaskModel(task)
        data = [addition_dataset(generated_digits(40, s), 2, s) for s in (0, 1)]
        train, val = (Split.of(task, model.groups, d) for d in data)
        fit(model, train, val, TrainConfig(progress=False, checkpoint=checkpoint))

    run("grounding")
    with pytest.raises(NesyError, match="trained with: task, digits, encoding, compiler"):
        run("auto")
    assert checkpoint.exists()


def test_resume_with_another_image_scale_is_refused(tmp_path):
    """A checkpoint keeps the image scale its network trained on; older checkpoints, saved
    before images were centred, took [0, 1]."""
    task = mnist_addition(1)
    checkpoint = tmp_path / "run.pt"
    model = TaskModel(task, centre_images=False)
    train, val = addition_splits(model, task, images=40)
    fit(model, train, val, TrainConfig(progress=False, checkpoint=checkpoint))
    with pytest.raises(NesyError, match="trained on images in \\[0, 1\\].*--no-centre-images"):
        fit(TaskModel(task), train, val, TrainConfig(progress=False, checkpoint=checkpoint))
    state = torch.load(checkpoint, weights_only=False)
    del state["centre_images"]
    torch.save(state, checkpoint)
    with pytest.raises(NesyError, match="--no-centre-images"):
        fit(TaskModel(task), train, val, TrainConfig(progress=False, checkpoint=checkpoint))
    resumed = TaskModel(task, centre_images=False)
    history = fit(resumed, train, val, TrainConfig(epochs=2, progress=False, checkpoint=checkpoint))
    assert len(history.epochs) == 2  # the first epoch read back, the second trained


def _ddp_worker(rank: int, world: int, init: str, out: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    _one_step(out)
    torch.distributed.destroy_process_group()


def _one_step(out: str) -> None:
    torch.manual_seed(0)
    task = mnist_addition(1)
    model = TaskModel(task)
    train, val = addition_splits(model, task, images=16)  # 8 examples: one batch of 8
    fit(model, train, val, TrainConfig(epochs=1, batch_size=8, progress=False))
    if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
        torch.save(model.state_dict(), out)


def test_two_processes_take_the_same_step_as_one(tmp_path):
    single = tmp_path / "single.pt"
    _one_step(str(single))
    double = tmp_path / "double.pt"
    init = f"file://{tmp_path / 'rendezvous'}"
    torch.multiprocessing.spawn(_ddp_worker, args=(2, init, str(double)), nprocs=2)
    a, b = torch.load(single), torch.load(double)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6, msg=name)
    torch.manual_seed(0)
    start = TaskModel(mnist_addition(1)).state_dict()
    assert not torch.equal(start["net.classifier.1.weight"], a["net.classifier.1.weight"])


def test_cli_trains_and_writes_the_metrics(tmp_path, capsys, monkeypatch):
    from nesy_ir.cli import main

    monkeypatch.delenv("NESY_DATA", raising=False)
    out = tmp_path / "metrics.json"
    argv = ["train", "mnist-addition", "--epochs", "1", "--train-size", "64", "--no-progress"]
    argv += ["--schedule", "cosine", "--augment", "1"]
    assert main([*argv, "--json-file", str(out)]) == 0
    metrics = json.loads(out.read_text())
    for key in (
        "task",
        "digits",
        "encoding",
        "semantics",
        "logic",
        "backend",
        "seed",
        "epochs",
        "test_accuracy",
        "train_seconds",
        "seconds_per_epoch",
        "inference_ms_per_query",
    ):
        assert key in metrics, key
    assert metrics["data"] == "embedded" and metrics["train_examples"] == 64
    assert metrics["schedule"] == "cosine" and metrics["augment"] == 1
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert 0.0 <= metrics["test_digit_accuracy"] <= 1.0


def test_cli_rejects_bad_options(capsys):
    from nesy_ir.cli import main

    assert main(["train", "mnist-addition", "--digits", "0", "--no-progress"]) == 2
    assert "digits must be at least 1" in capsys.readouterr().err


def test_sudoku_reports_average_precision():
    from sklearn.metrics import average_precision_score

    torch.manual_seed(0)
    task = sudoku()
    model = TaskModel(task)
    split = Split.of(task, model.groups, sudoku_dataset(generated_digits(200, 0), 20, 0))
    result = evaluate(model, split)
    with torch.no_grad():
        out = model(split.batch(np.arange(len(split)))[0])
    expected = average_precision_score(split.targets[:, 0], out.scores[:, 1].numpy())
    assert result["average_precision"] == pytest.approx(expected)


def test_a_tiny_product_t_norm_score_keeps_its_gradient():
    """Sudoku validity under the product t-norm is ~1e-15 for an untrained network: the loss's
    floor must sit below it, or the learning signal is cut (it was at 1e-12)."""
    torch.manual_seed(0)
    task = sudoku()
    model = TaskModel(task, "product")
    train, _ = splits(model, task, lambda s: sudoku_dataset(generated_digits(200, s), 8, s))
    images, targets = train.batch(np.arange(8))
    valid = targets[:, 0] == 1
    out = model(images[valid])
    picked = out.scores.gather(1, targets[valid] + model.offsets)
    assert valid.any() and (picked < 1e-12).all() and (picked > 0).all()
    model.loss(out, targets[valid]).backward()
    grad = model.net.classifier[1].weight.grad
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_lenet_centres_its_images_from_0_1_to_minus_1_1_by_default():
    seen = []
    images = torch.stack([torch.zeros(28, 28), torch.ones(28, 28), torch.full((28, 28), 0.25)])
    centred, plain = LeNet(), LeNet(centre=False)
    plain.load_state_dict(centred.state_dict())
    for net in (centred, plain):
        net.encoder.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0]))
        net(images)
    assert seen[0][:, 0, 0, 0].tolist() == [-1.0, 1.0, -0.5]  # what the convolutions see
    assert seen[1][:, 0, 0, 0].tolist() == [0.0, 1.0, 0.25]
    assert TaskModel(mnist_addition(1)).net.centre
    assert not TaskModel(mnist_addition(1), centre_images=False).net.centre


@pytest.mark.parametrize(
    "options, weight_decay, centre",
    [([], 0.01, True), (["--weight-decay", "0.05", "--no-centre-images"], 0.05, False)],
)
def test_the_recipe_options_reach_the_optimiser_and_the_network(
    options, weight_decay, centre, tmp_path, monkeypatch
):
    import nesy_models.experiment as experiment
    from nesy_ir.cli import main

    seen = {}
    real_fit = experiment.fit

    def fit_recording(model, train, val, config):
        seen["centre"] = model.net.centre
        return real_fit(model, train, val, config)

    class AdamW(torch.optim.AdamW):
        def __init__(self, params, **kwargs):
            seen["weight_decay"] = kwargs["weight_decay"]
            super().__init__(params, **kwargs)

    monkeypatch.delenv("NESY_DATA", raising=False)
    monkeypatch.setattr(experiment, "fit", fit_recording)
    monkeypatch.setattr(torch.optim, "AdamW", AdamW)
    out = tmp_path / "metrics.json"
    argv = ["train", "mnist-addition", "--train-size", "32", "--no-progress", *options]
    assert main([*argv, "--json-file", str(out)]) == 0
    assert seen == {"centre": centre, "weight_decay": weight_decay}
    metrics = json.loads(out.read_text())
    assert (metrics["weight_decay"], metrics["centre_images"]) == (weight_decay, centre)


def test_a_checkpoint_of_the_generic_circuit_module_loads_into_the_native_one():
    """A model saved before circuits ran natively (its circuit's buffers those of the generic
    module) loads where the circuit is the same, and is refused where it is another."""
    import nesy_torch

    def saved_before(digits: int) -> dict:
        model = TaskModel(mnist_addition(digits))
        compiled = model.compiled
        model.circuit = nesy_torch.lower(
            compiled.circuit, compiled.labelling, model.circuit.keys, native=False
        )
        return model.state_dict()

    if nesy_torch.native.library() is None:
        pytest.skip(f"no C compiler builds the native pass: {nesy_torch.native.build_error()}")
    model = TaskModel(mnist_addition(1))
    assert isinstance(model.circuit, nesy_torch.NativeCircuit)
    state = saved_before(1)
    model.load_state_dict(state)
    for name, value in model.net.state_dict().items():
        assert torch.equal(value, state[f"net.{name}"])
    with pytest.raises(RuntimeError, match="circuit"):
        model.load_state_dict(saved_before(2))
    other = TaskModel(mnist_addition(2)).state_dict()
    with pytest.raises(RuntimeError, match="another circuit's"):
        model.load_state_dict({**model.state_dict(), "circuit.digest": other["circuit.digest"]})
