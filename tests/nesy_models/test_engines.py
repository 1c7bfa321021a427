"""The E-step's inference engines: exact and bp equal brute-force posteriors, abc approaches
them as its draws grow, an impossible answer keeps the prior (never NaN), and the registry (names,
entry points, what serves which task)."""

from __future__ import annotations

import dataclasses
import itertools
from importlib.metadata import EntryPoint

import numpy as np
import pytest
import torch

from nesy_models.engines import (
    EngineError,
    Posterior,
    engine_names,
    get_engine,
    register_engine,
    registry,
    supporting,
)
from nesy_models.engines.bp import bethe_log_likelihood
from nesy_models.tasks import mnist_addition, sudoku
from nesy_models.tasks.factor_graph import FactorGraph

STANDARD, CARRY2, SUDOKU = mnist_addition(1), mnist_addition(2, "carry"), sudoku()
CARRY3 = mnist_addition(3, "carry")


def brute_force(task, probs: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """Posterior marginals (B, P, C) by enumerating every assignment of the symbols."""
    batch, positions, classes = probs.shape
    every = np.array(list(itertools.product(range(classes), repeat=positions)))
    answers = task.symbolic(every)
    out = np.zeros((batch, positions, classes))
    for b in range(batch):
        weight = np.prod(probs[b].numpy()[np.arange(positions), every], axis=1)
        weight = weight * (answers == targets[b].numpy()).all(1)
        for p in range(positions):
            np.add.at(out[b, p], every[:, p], weight)
        out[b] /= weight.sum()
    return out


def batch_of(task, seed: int, batch: int = 4):
    """Random network distributions (B, P, 10) in float64 and answers drawn from them."""
    generator = torch.Generator().manual_seed(seed)
    logits = 2 * torch.randn(batch, len(task.terms), 10, dtype=torch.float64, generator=generator)
    probs = logits.softmax(-1)
    digits = torch.multinomial(probs.view(-1, 10), 1, generator=generator).view(batch, -1)
    return probs, torch.as_tensor(task.symbolic(digits.numpy()))


@pytest.mark.parametrize("engine", ["exact", "bp"])
@pytest.mark.parametrize("task", [STANDARD, CARRY2], ids=["standard-1", "carry-2"])
def test_exact_and_bp_equal_the_brute_force_posterior(engine, task):
    assert task.factor_graph.is_tree()  # so belief propagation is exact
    for seed in range(3):
        probs, targets = batch_of(task, seed)
        posterior = get_engine(engine, task)(task, probs, targets, samples=1, generator=None)
        np.testing.assert_allclose(
            posterior.marginals.numpy(), brute_force(task, probs, targets), atol=1e-9
        )
        assert not posterior.fallback.any()


@pytest.mark.parametrize("task", [STANDARD, CARRY2], ids=["standard-1", "carry-2"])
def test_unrolled_bp_gives_the_exact_likelihood_and_its_gradient(task):
    """On a tree, the Bethe log-likelihood is log P(y|x), and its gradient (backprop through
    the unrolled iterations) is that of the brute-force sum over every assignment."""
    every = torch.as_tensor(list(itertools.product(range(10), repeat=len(task.terms))))
    answers = torch.as_tensor(task.symbolic(every.numpy()))
    for seed in range(3):
        probs, targets = batch_of(task, seed)
        logits = probs.log().requires_grad_()
        bethe = bethe_log_likelihood(task, logits.softmax(-1), targets)
        (grad,) = torch.autograd.grad(bethe.sum(), logits)
        logits = probs.log().requires_grad_()
        weights = logits.softmax(-1)[:, torch.arange(every.shape[1]), every].prod(-1)  # (B, W)
        hits = (answers[None] == targets[:, None]).all(-1)
        exact = (weights * hits).sum(1).log()
        (expected,) = torch.autograd.grad(exact.sum(), logits)
        np.testing.assert_allclose(bethe.detach().numpy(), exact.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(grad.numpy(), expected.numpy(), atol=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_bp_is_exact_on_a_tree_whatever_the_order_of_its_factors(seed):
    """One round of the two-pass schedule is exact on a tree, for any order of the factors."""
    graph = CARRY3.factor_graph
    order = np.random.default_rng(seed).permutation(len(graph.factors))
    shuffled = FactorGraph(graph.sizes, tuple(graph.factors[f] for f in order), graph.symbols)
    assert set(shuffled.leaves_first()) == set(range(len(order)))
    task = dataclasses.replace(CARRY3, factor_graph=shuffled)
    probs, targets = batch_of(task, seed, batch=2)
    posterior = get_engine("bp", task)(task, probs, targets, samples=1, generator=None)
    np.testing.assert_allclose(
        posterior.marginals.numpy(), brute_force(task, probs, targets), atol=1e-9
    )


def test_unrolled_bp_of_an_impossible_answer_is_finite():
    probs, targets = batch_of(CARRY2, 0)
    probs = torch.zeros_like(probs)
    probs[..., 0] = 1.0  # every digit 0, so only the sum 0 is possible
    targets[:] = torch.as_tensor(CARRY2.symbolic(np.full((1, 4), 9)))  # 99 + 99
    assert torch.isfinite(bethe_log_likelihood(CARRY2, probs, targets)).all()


def test_abc_approaches_the_exact_posterior_as_its_draws_grow():
    probs, targets = batch_of(STANDARD, 0, batch=2)
    exact = brute_force(STANDARD, probs, targets)
    errors = []
    for draws in (300, 3000, 30000):
        generator = torch.Generator().manual_seed(draws)
        posterior = get_engine("abc")(STANDARD, probs, targets, samples=draws, generator=generator)
        errors.append(np.abs(posterior.marginals.numpy() - exact).max())
        assert errors[-1] < 15 / np.sqrt(draws)  # the tolerance shrinks as 1/sqrt(K)
        assert posterior.samples.shape == (1, 2, 2) and posterior.most_probable().shape == (2, 2)
        sums = STANDARD.symbolic(posterior.samples[0].numpy())  # accepted draws reproduce y
        np.testing.assert_array_equal(sums, targets.numpy())
    assert errors[-1] < errors[0]


def test_abc_nearest_keeps_the_draws_nearest_the_answer():
    """Where a draw reproduces the answer, abc-nearest is abc; where none does, it keeps the
    draws with the fewest result digits wrong, never the prior."""
    probs, targets = batch_of(CARRY2, 0, batch=3)
    options = {"samples": 2000}
    exact_hit = get_engine("abc")(CARRY2, probs, targets, **options, generator=_seeded())
    nearest = get_engine("abc-nearest")(CARRY2, probs, targets, **options, generator=_seeded())
    torch.testing.assert_close(nearest.marginals, exact_hit.marginals)
    probs = torch.zeros(1, 4, 10, dtype=torch.float64)
    probs[..., 3] = 1.0  # 33 + 33 = 66 for sure: the answer 76 is never drawn
    targets = torch.as_tensor(CARRY2.symbolic(np.array([[4, 3, 3, 3]])))  # 43 + 33
    assert get_engine("abc")(CARRY2, probs, targets, **options, generator=_seeded()).fallback
    posterior = get_engine("abc-nearest")(CARRY2, probs, targets, **options, generator=_seeded())
    assert not posterior.fallback.any()
    samples = CARRY2.symbolic(posterior.samples[0].numpy())
    assert (samples != targets.numpy()).sum() == 1  # one result digit wrong: the nearest


def _seeded() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def test_the_exact_engine_serves_sudoku_validity_and_invalidity():
    probs = torch.softmax(torch.randn(2, 16, 4, dtype=torch.float64), -1)
    for answer in (0, 1):  # "invalid" is scored by the complement of the "valid" root
        targets = torch.full((2, 1), answer)
        posterior = get_engine("exact", SUDOKU)(SUDOKU, probs, targets, samples=1, generator=None)
        np.testing.assert_allclose(posterior.marginals.sum(-1).numpy(), 1.0, atol=1e-9)
        assert (posterior.marginals >= -1e-12).all() and not posterior.fallback.any()
    # a valid grid is likely only under its own digits: the posterior moves towards them
    grid = torch.tensor([[0, 1, 2, 3], [2, 3, 0, 1], [1, 0, 3, 2], [3, 2, 1, 0]]).flatten()
    probs = torch.full((1, 16, 4), 0.1, dtype=torch.float64).scatter(-1, grid[None, :, None], 0.7)
    posterior = get_engine("exact")(SUDOKU, probs, torch.ones(1, 1, dtype=torch.int64))
    assert (posterior.marginals[0].argmax(-1) == grid).all()
    assert (posterior.marginals[0].max(-1).values > 0.7).all()


@pytest.mark.parametrize("engine", ["exact", "bp", "abc"])
def test_an_answer_of_probability_zero_keeps_the_prior_without_nan(engine):
    probs = torch.zeros(2, 2, 10, dtype=torch.float64)
    probs[:, :, 1] = 1.0  # the network is sure both digits are 1
    targets = torch.tensor([[2], [7]])  # 1 + 1 = 2 is possible, 7 is not
    generator = torch.Generator().manual_seed(0)
    posterior = get_engine(engine)(STANDARD, probs, targets, samples=50, generator=generator)
    assert torch.isfinite(posterior.marginals).all()
    assert posterior.fallback.tolist() == [False, True]
    torch.testing.assert_close(posterior.marginals[1], probs[1])


def test_abc_without_an_accepted_draw_falls_back_to_the_prior():
    probs = torch.full((1, 2, 10), 0.1, dtype=torch.float64)
    probs[0, :, 0] = 1 - 9e-12
    probs[0, :, 1:] = 1e-12  # 18 is reachable, but no draw of 20 will reach it
    generator = torch.Generator().manual_seed(0)
    targets = torch.tensor([[18]])
    posterior = get_engine("abc")(STANDARD, probs, targets, samples=20, generator=generator)
    assert posterior.fallback.tolist() == [True]
    torch.testing.assert_close(posterior.marginals, probs)


def test_engines_are_registered_by_name_and_say_which_tasks_they_serve():
    assert {"exact", "bp", "abc"} <= set(engine_names())
    assert supporting(SUDOKU)[:2] == ("exact", "abc")  # no factor graph for Sudoku yet
    with pytest.raises(EngineError, match="does not support task sudoku.*exact, abc"):
        get_engine("bp", SUDOKU)
    with pytest.raises(EngineError, match=r"unknown engine 'nope' \(known: exact, bp, abc"):
        get_engine("nope")
    assert set(supporting(mnist_addition(2))) >= {"exact", "abc"}
    assert "bp" not in supporting(mnist_addition(2))  # the standard encoding's graph: N = 1


def _prior(task, probs, targets, *, samples, generator):
    """A user's engine: the posterior is the prior (EM then learns nothing)."""
    return Posterior(probs, torch.zeros(len(probs), dtype=torch.bool))


def test_a_users_engine_is_any_function_registered_by_name(monkeypatch):
    monkeypatch.setattr(registry, "_ENGINES", dict(registry._ENGINES))
    register_engine("prior", _prior, supports=lambda task: task.name == "sudoku")
    assert "prior" in engine_names() and "prior" in supporting(SUDOKU)
    assert "prior" not in supporting(STANDARD)
    probs = torch.softmax(torch.randn(2, 16, 4), -1)
    assert (
        get_engine("prior", SUDOKU)(SUDOKU, probs, None, samples=1, generator=None).marginals
        is probs
    )
    with pytest.raises(EngineError, match="must be a function"):
        register_engine("broken", 3)


def test_engines_come_from_the_nesy_engines_entry_point_group(monkeypatch):
    monkeypatch.setattr(registry, "_ENGINES", dict(registry._ENGINES))
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    point = EntryPoint("prior", f"{__name__}:_prior", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(
        registry, "entry_points", lambda group: [point] if group == "nesy.engines" else []
    )
    assert "prior" in engine_names()
    assert get_engine("prior", STANDARD) is _prior
