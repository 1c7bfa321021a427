"""The EM learner (EM-NeSy): soft EM's first M-step is backpropagation through the circuit (the
same gradient), the M-step targets of each variant, the options (config and CLI), checkpoints and
DDP, the JAX backend, and a short training run on the embedded digits (about 5 s)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nesy_ir.cli import main
from nesy_models.checks import OptionError
from nesy_models.engines import Posterior
from nesy_models.experiment import RunConfig, run
from nesy_models.learners import EM, TrainConfig, e_step, fit, m_step_loss, m_step_target
from nesy_models.models import TaskModel
from nesy_models.tasks import mnist_addition, sudoku

from .test_training import addition_splits

STANDARD, CARRY, SUDOKU = mnist_addition(1), mnist_addition(1, "carry"), sudoku()


def _gradients(model: TaskModel, loss: torch.Tensor) -> list[torch.Tensor]:
    return list(torch.autograd.grad(loss, [p for p in model.parameters() if p.requires_grad]))


@settings(max_examples=15)
@given(
    seed=st.integers(0, 2**16), batch=st.integers(1, 5), task=st.sampled_from([STANDARD, SUDOKU])
)
def test_soft_em_first_m_step_has_the_gradient_of_backpropagation(seed, batch, task):
    """d(-log P(y|x))/d logits = prior - posterior = the gradient of the cross-entropy of the
    network's softmax against the posterior: the same step, to 1e-6 in float64."""
    torch.manual_seed(seed)
    model = TaskModel(task).double()
    images = torch.rand(batch, len(task.terms), 28, 28, dtype=torch.float64)
    groups = model.group_sizes
    targets = torch.stack([torch.randint(0, size, (batch,)) for size in groups], 1)
    backprop = _gradients(model, model.loss(model(images), targets))
    with torch.no_grad():
        probs = model(images, network_only=True).digits
    posterior = e_step(task, "exact", probs, targets)
    out = model(images, network_only=True)
    em = _gradients(model, m_step_loss(out.digit_logits, posterior.marginals))
    if posterior.fallback.any():  # an answer the circuit gives probability 0: no evidence
        return
    for a, b in zip(backprop, em, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, rtol=1e-6)


def test_the_balance_term_raises_the_entropy_of_the_mean_class_distribution():
    """With ``balance`` the M-step loss is the cross-entropy minus balance * P * H(mean class
    distribution), and its gradient lifts a class the network has dropped."""
    logits = torch.tensor([[[4.0, 0.0, -6.0], [0.0, 4.0, -6.0]]], requires_grad=True)
    target = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    mean = logits.softmax(-1).mean((0, 1)).detach().numpy()
    entropy = -(mean * np.log(mean)).sum()
    plain = float(m_step_loss(logits, target).detach())
    balanced = m_step_loss(logits, target, 0.5)
    assert float(balanced.detach()) == pytest.approx(plain - 0.5 * 2 * entropy, rel=1e-6)
    (grad,) = torch.autograd.grad(balanced, logits)
    (plain_grad,) = torch.autograd.grad(m_step_loss(logits, target), logits)
    assert (grad[..., 2] < plain_grad[..., 2]).all()  # descent raises the dropped class


def test_m_step_targets_of_each_variant():
    marginals = torch.tensor([[[0.2, 0.8], [0.6, 0.4]]], dtype=torch.float64)
    posterior = Posterior(marginals, torch.zeros(1, dtype=torch.bool))
    assert m_step_target(posterior, "soft") is marginals
    hard = m_step_target(posterior, "hard")
    torch.testing.assert_close(hard, torch.tensor([[[0.0, 1.0], [1.0, 0.0]]], dtype=torch.float64))
    posterior.mpe = torch.tensor([[0, 1]])  # an engine's MPE beats the marginals' argmax
    assert m_step_target(posterior, "hard")[0].argmax(-1).tolist() == [0, 1]
    generator = torch.Generator().manual_seed(0)
    draws = torch.stack([m_step_target(posterior, "stochastic", generator) for _ in range(2000)])
    assert (draws.sum(-1) == 1).all()
    np.testing.assert_allclose(draws.mean(0).numpy(), marginals.numpy(), atol=0.04)
    posterior.samples = torch.tensor([[[1, 1]]])  # an engine's joint sample is taken as is
    assert m_step_target(posterior, "stochastic")[0].argmax(-1).tolist() == [1, 1]


@pytest.mark.parametrize("engine", ["exact", "bp", "abc"])
@pytest.mark.parametrize("variant", ["soft", "hard", "stochastic"])
def test_an_em_step_trains_the_network_and_times_both_steps(engine, variant):
    torch.manual_seed(0)
    model = TaskModel(CARRY)
    before = [p.detach().clone() for p in model.parameters()]
    learner = EM(engine, variant, samples=200, m_steps=2)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images = torch.rand(4, 2, 28, 28)
    targets = torch.as_tensor(CARRY.symbolic(np.array([[1, 2], [5, 5], [9, 9], [0, 0]])))
    done = learner.step(model, model, images, targets, optimiser, step=0)
    assert np.isfinite(done["loss"]) and done["e_step_seconds"] > 0 and done["m_step_seconds"] > 0
    assert done["fallbacks"] == 0
    assert any((a != b).any() for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"learner": "em", "engine": "nope"}, "unknown engine 'nope' (known: exact, bp, abc"),
        ({"learner": "em", "samples": 0}, "samples must be at least 1, got 0"),
        ({"learner": "em", "m_steps": 0}, "m_steps must be at least 1, got 0"),
        ({"learner": "em", "em": "fuzzy"}, "unknown em variant 'fuzzy'"),
        ({"learner": "gibbs"}, "unknown learner 'gibbs'"),
        ({"learner": "backprop", "engine": "abc"}, "needs a differentiable engine (exact, bp)"),
        (
            {"learner": "backprop", "engine": "bp", "semantics": "godel"},
            "backprop through the bp engine trains probabilistic logic in the architecture",
        ),
        (
            {"learner": "backprop", "engine": "bp", "backend": "jax"},
            "runs on the torch backend, not jax",
        ),
        (
            {"digits": 2, "learner": "backprop", "engine": "bp"},
            "does not support task mnist-addition-2",
        ),
        (
            {"task": "sudoku", "learner": "em", "engine": "bp"},
            "engine 'bp' does not support task sudoku (engines that do: exact, abc",
        ),
        (
            {"digits": 2, "learner": "em", "engine": "bp"},
            "does not support task mnist-addition-2",
        ),
        ({"learner": "em", "logic": "loss"}, "the em learner trains probabilistic logic"),
    ],
)
def test_bad_learner_options_are_refused_by_the_config(options, message):
    with pytest.raises(OptionError) as e:
        RunConfig(**options)
    assert message in str(e.value)


def test_bad_learner_options_are_refused_by_the_cli_before_any_work(capsys, monkeypatch):
    import nesy_models.experiment

    monkeypatch.setattr(nesy_models.experiment, "run", pytest.fail)  # never reached
    for argv, message in [
        (["--learner", "em", "--engine", "nope"], "unknown engine 'nope'"),
        (["--learner", "em", "--samples", "0"], "samples must be at least 1"),
    ]:
        assert main(["train", "mnist-addition", *argv, "--no-progress"]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(OptionError, match="samples must be at least 1"):
        TrainConfig(learner="em", samples=0)


@pytest.mark.parametrize("learner, engine", [("em", "bp"), ("em", "abc"), ("backprop", "bp")])
def test_em_and_backprop_through_bp_learn_mnist_addition_on_the_embedded_digits(
    learner, engine, monkeypatch
):
    monkeypatch.delenv("NESY_DATA", raising=False)  # the embedded digits, even where CI sets it
    config = RunConfig(
        learner=learner, engine=engine, epochs=4, train_size=600, lr=3e-3, batch_size=16,
        progress=False,
    )  # fmt: skip
    metrics = run(config)
    assert metrics["data"] == "embedded"
    assert metrics["test_accuracy"] > 0.5  # chance: under 0.1
    assert (metrics["learner"], metrics["engine"]) == (learner, engine)
    assert metrics["peak_memory_mb"] > 0
    if learner == "em":  # backprop has no E-step and M-step to time apart
        assert metrics["e_step_seconds"] > 0 and metrics["m_step_seconds"] > 0


def _em_run(task, epochs: int, checkpoint=None, batch_size: int = 32, images: int = 200):
    torch.manual_seed(0)
    model = TaskModel(task)
    train, val = addition_splits(model, task, images=images)
    config = TrainConfig(
        epochs=epochs, batch_size=batch_size, progress=False, checkpoint=checkpoint,
        patience=99, learner="em", engine="abc", em="stochastic", samples=100,
    )  # fmt: skip
    return model, fit(model, train, val, config)


def test_an_em_run_resumes_from_its_checkpoint_exactly(tmp_path):
    """abc's draws and the stochastic target come from (seed, step): a resumed run draws the
    same as one that never stopped."""
    straight, history = _em_run(STANDARD, 2)
    assert {"e_step_seconds", "m_step_seconds", "fallbacks"} <= set(history.epochs[0])
    checkpoint = tmp_path / "em.pt"
    _em_run(STANDARD, 1, checkpoint)
    resumed, history = _em_run(STANDARD, 2, checkpoint)
    assert len(history.epochs) == 2
    for (name, a), b in zip(
        straight.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def _em_step(out: str) -> None:
    torch.manual_seed(0)
    model = TaskModel(STANDARD)
    train, val = addition_splits(model, STANDARD, images=16)  # 8 examples: one batch of 8
    config = TrainConfig(epochs=1, batch_size=8, progress=False, learner="em", engine="bp")
    fit(model, train, val, config)
    if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
        torch.save(model.state_dict(), out)


def _em_ddp_worker(rank: int, world: int, init: str, out: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    _em_step(out)
    torch.distributed.destroy_process_group()


def test_em_on_two_processes_takes_the_same_step_as_one(tmp_path):
    single, double = tmp_path / "single.pt", tmp_path / "double.pt"
    _em_step(str(single))
    init = f"file://{tmp_path / 'rendezvous'}"
    torch.multiprocessing.spawn(_em_ddp_worker, args=(2, init, str(double)), nprocs=2)
    a, b = torch.load(single), torch.load(double)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6, msg=name)


def test_em_on_jax_takes_backpropagations_step_and_trains():
    jax_model = pytest.importorskip("nesy_models.models.jax_model")
    jax_training = pytest.importorskip("nesy_models.learners.jax_training")
    jax, jnp = jax_model.jax, jax_model.jnp
    model = jax_model.JaxTaskModel(STANDARD)
    params = model.init(0)
    images = np.random.default_rng(0).random((4, 2, 28, 28), dtype=np.float32)
    targets = np.array([[3], [9], [0], [18]])
    backprop = jax.grad(model.loss)(params, images, targets)
    probs = torch.from_numpy(np.array(jax.nn.softmax(model.digit_logits(params, images), -1)))
    target = jnp.asarray(e_step(STANDARD, "exact", probs, torch.from_numpy(targets)).marginals)

    def m_step(p):
        log_p = jax.nn.log_softmax(model.digit_logits(p, images), -1)
        return -(target * log_p).sum((1, 2)).mean()

    em = jax.grad(m_step)(params)
    for a, b in zip(
        jax.tree_util.tree_leaves(backprop), jax.tree_util.tree_leaves(em), strict=True
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=1e-3)
    train, val = addition_splits(model, STANDARD, images=100)
    config = TrainConfig(progress=False, learner="em", engine="bp", em="hard", m_steps=2)
    trained, history = jax_training.fit_jax(model, train, val, config)
    assert history.epochs[0]["e_step_seconds"] > 0 and history.epochs[0]["m_step_seconds"] > 0
    assert not np.allclose(np.asarray(trained["out"]["w"]), np.asarray(model.init(0)["out"]["w"]))
