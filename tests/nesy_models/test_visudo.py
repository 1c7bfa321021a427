"""ViSudo-PC: the generator's invariants (valid boards valid, corrupted ones not, images of the
right digits and not reused, seeds reproducible), the task's four readings of validity (the
compiled program, the checker, ABC's distance, the factor graph) against each other and brute
force, the circuit-free 9 x 9 model, and bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from nesy_models.checks import OptionError
from nesy_models.data import load_embedded_digits
from nesy_models.data.errors import DataError
from nesy_models.data.visudo import (
    constrained_pairs,
    is_valid,
    valid_board,
    visudo_dataset,
    visudo_splits,
)
from nesy_models.engines import get_engine, supporting
from nesy_models.experiment import RunConfig, run
from nesy_models.models import TaskModel
from nesy_models.tasks import visudo
from nesy_models.tasks.visudo import violations

DIGITS = load_embedded_digits("train")
TEST_DIGITS = load_embedded_digits("test")
FOUR, NINE = visudo(4), visudo(9)


@pytest.mark.parametrize("dimension", [4, 9])
def test_generated_boards_are_labelled_right_and_drawn_from_their_digits(dimension):
    data = visudo_dataset(DIGITS, dimension, seed=3, puzzles=4)
    cells = data.boards.reshape(len(data), -1)
    assert len(data) == 8 and data.valid.sum() == 4
    assert np.array_equal(is_valid(cells), data.valid == 1)
    assert np.array_equal(DIGITS.labels[data.index], cells)  # each cell an image of its digit
    assert np.array_equal(np.bincount(data.puzzle), [2] * 4)  # a valid board and its corruption
    for p in range(4):
        valid, corrupted = (data.index[(data.puzzle == p) & (data.valid == v)][0] for v in (1, 0))
        assert 1 <= (valid != corrupted).sum() <= 20  # a few swaps or replacements
    valid_images = data.index[data.valid == 1].ravel()
    assert len(np.unique(valid_images)) == len(valid_images) and data.reused == 0
    again = visudo_dataset(DIGITS, dimension, seed=3, puzzles=4)
    assert np.array_equal(again.index, data.index) and np.array_equal(again.valid, data.valid)


def test_the_checker_counts_the_288_4x4_sudokus_and_generated_9x9_boards_are_valid():
    rng = np.random.default_rng(0)
    boards = np.stack([valid_board(9, rng).ravel() for _ in range(20)])
    assert is_valid(boards).all() and (violations(boards, constrained_pairs(9)) == 0).all()
    broken = boards.copy()
    broken[:, [0, 1]] = broken[:, [1, 0]]  # two cells of one row swapped: the columns break
    assert not is_valid(broken).any()
    rows = np.array(list(itertools.permutations(range(4))))
    every = np.array([np.concatenate(r) for r in itertools.product(rows, repeat=4)])
    assert is_valid(every).sum() == 288  # the number of 4x4 Sudokus
    assert len(constrained_pairs(4)) == 56 and len(constrained_pairs(9)) == 810


def test_the_splits_use_disjoint_images_for_train_and_validation():
    splits = visudo_splits(DIGITS, TEST_DIGITS, 4, split=1, puzzles=3)
    assert set(splits.train.index.ravel()).isdisjoint(splits.val.index.ravel())
    assert splits.test.images is TEST_DIGITS.images
    other = visudo_splits(DIGITS, TEST_DIGITS, 4, split=2, puzzles=3)
    assert not np.array_equal(other.train.index, splits.train.index)


def test_the_program_the_checker_and_the_distance_agree_on_every_4x4_board_of_a_row():
    compiled = FOUR.compiled("prob")
    assert [q[0] for q in compiled.queries] == ["valid"]
    rng = np.random.default_rng(1)
    boards = np.stack([valid_board(4, rng).ravel() for _ in range(6)])
    boards[3:, 5] = (boards[3:, 5] + 1) % 4  # three corrupted
    probs = torch.nn.functional.one_hot(torch.as_tensor(boards), 4).double() * 0.999 + 0.00025
    model = TaskModel(FOUR).double()
    labels = probs.flatten(1)[:, model.label_index]  # the circuit's label order
    scores = model.circuit.matrix(labels)[:, model.value_root[-1]]  # P(valid)
    checker = FOUR.symbolic(boards)[:, 0]
    assert np.array_equal(scores.detach().numpy() > 0.5, checker == 1)
    targets = np.ones((6, 1), dtype=np.int64)
    distance = FOUR.distance(boards[:, None], targets)[:, 0]
    assert np.array_equal(distance == 0, checker == 1) and (distance[3:] >= 1).all()
    assert np.array_equal(FOUR.distance(boards[:, None], 0 * targets)[:, 0], checker)


def brute_force_valid_posterior(probs: np.ndarray) -> np.ndarray:
    """P(cell = d | valid) (16, 4) of one 4x4 board, over all 288 valid boards."""
    rows = np.array(list(itertools.permutations(range(4))))
    boards = np.array([np.concatenate(r) for r in itertools.product(rows, repeat=4)])
    boards = boards[is_valid(boards)]
    weight = np.prod(probs[np.arange(16), boards], axis=1)
    out = np.zeros((16, 4))
    for cell in range(16):
        np.add.at(out[cell], boards[:, cell], weight)
    return out / weight.sum()


def near_board(seed: int) -> torch.Tensor:
    """A network's distributions (1, 16, 4) leaning towards a random valid board."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(1, 16, 4, dtype=torch.float64, generator=generator).softmax(-1)
    board = torch.as_tensor(valid_board(4, np.random.default_rng(seed)).ravel())
    return 0.6 * torch.nn.functional.one_hot(board, 4)[None].double() + 0.4 * noise


@pytest.mark.parametrize("seed", [0, 1])
def test_exact_and_abc_give_the_brute_force_posterior_of_a_4x4_board_observed_valid(seed):
    probs = near_board(seed)
    expected = brute_force_valid_posterior(probs[0].numpy())
    targets = torch.ones(1, 1, dtype=torch.int64)
    exact = get_engine("exact", FOUR)(FOUR, probs, targets, samples=1, generator=None)
    np.testing.assert_allclose(exact.marginals[0].numpy(), expected, atol=1e-9)
    generator = torch.Generator().manual_seed(seed)
    abc = get_engine("abc", FOUR)(FOUR, probs, targets, samples=40000, generator=generator)
    assert not abc.fallback.any()
    assert np.abs(abc.marginals[0].numpy() - expected).max() < 0.06


def test_loopy_bp_conditions_valid_boards_only_and_keeps_the_prior_of_invalid_ones():
    probs = near_board(2).repeat(2, 1, 1)
    targets = torch.tensor([[1], [0]])
    bp = get_engine("bp", FOUR)(FOUR, probs, targets, samples=1, generator=None)
    board = probs[0].argmax(-1)
    assert torch.equal(bp.marginals[0].argmax(-1), board)  # the valid board, sharpened
    assert (bp.marginals[0].max(-1).values >= probs[0].max(-1).values - 1e-9).all()
    torch.testing.assert_close(bp.marginals[1], probs[1])  # "some pair equal" is not pairwise


def test_the_9x9_task_has_no_circuit_and_engines_that_need_none():
    assert NINE.program is None and set(supporting(NINE)) >= {"abc", "abc-nearest", "bp"}
    assert "exact" not in supporting(NINE)
    model = TaskModel(NINE)
    assert model.circuit is None and model.compiled is None
    boards = np.stack([valid_board(9, np.random.default_rng(s)).ravel() for s in range(3)])
    boards[2, 0] = (boards[2, 0] + 1) % 9
    probs = torch.nn.functional.one_hot(torch.as_tensor(boards), 9).float() * 0.99 + 0.01 / 9
    from nesy_models.models.torch_model import Output

    out = Output(probs, None, None)
    assert model.predict(out)[:, 0].tolist() == [1, 1, 0]  # the most probable board's answer
    from nesy_models.models.torch_model import _sampled_scores

    scores = _sampled_scores(NINE, model.groups, probs)
    expected_valid = (0.99 + 0.01 / 9) ** 81  # P(every cell drawn as its likeliest digit)
    assert scores[:2, 1].tolist() == pytest.approx([expected_valid] * 2, abs=0.05)  # 3 sigma
    assert scores[2, 1] < 0.05 and torch.allclose(scores.sum(1), torch.ones(3))


def test_the_9x9_task_trains_only_by_em_with_an_engine():
    with pytest.raises(OptionError, match="no circuit.*--learner em"):
        RunConfig(task="visudo", dimension=9)
    with pytest.raises(OptionError, match="engine 'exact' does not support task visudo-9"):
        RunConfig(task="visudo", dimension=9, learner="em", engine="exact")
    with pytest.raises(OptionError, match="dim"):
        RunConfig(task="visudo", dimension=5)


def test_a_tiny_4x4_run_learns_above_chance(monkeypatch):
    monkeypatch.delenv("NESY_DATA", raising=False)
    torch.set_num_threads(1)
    config = RunConfig(
        task="visudo", dimension=4, puzzles=40, epochs=30, batch_size=8, lr=3e-3,
        patience=30, progress=False,
    )  # fmt: skip
    result = run(config)
    assert result["test_auroc"] > 0.8  # chance: 0.5
    # chance: 0.5 (half the boards are valid); on 40 puzzles the 0.5 threshold's accuracy
    # swings with the recipe and the machine (0.6 to 0.95 measured), the ranking (AUROC) less
    assert result["test_accuracy"] > 0.5


def test_a_dimension_other_than_4_or_9_is_refused():
    with pytest.raises(DataError, match="dimension 4 or 9"):
        visudo_dataset(DIGITS, 6, seed=0, puzzles=1)
    with pytest.raises(DataError, match="at least 1 puzzle"):
        visudo_dataset(DIGITS, 4, seed=0, puzzles=0)


def test_the_command_line_names_a_bad_board_size_and_a_9x9_run_without_em(capsys):
    from nesy_ir.cli import main

    assert main(["train", "visudo", "--dim", "5", "--no-progress"]) == 2
    assert "dim" in capsys.readouterr().err
    assert main(["train", "visudo", "--dim", "9", "--no-progress"]) == 2
    assert "no circuit" in capsys.readouterr().err


def test_a_model_without_a_circuit_keeps_the_epoch_of_best_validation_accuracy():
    from dataclasses import replace

    from nesy_models.learners import Split, TrainConfig, fit

    torch.manual_seed(0)
    task = replace(
        visudo(4), program=None, _compiled={}, _derived={}
    )  # 4x4 without its program, as 9x9 is
    model = TaskModel(task)
    assert model.compiled is None
    data = visudo_splits(DIGITS, TEST_DIGITS, 4, split=0, puzzles=10)
    train, val = (Split.of(task, model.groups, part) for part in data[:2])
    config = TrainConfig(
        epochs=4, batch_size=8, lr=3e-3, patience=4, learner="em", engine="abc-nearest",
        samples=100, progress=False,
    )  # fmt: skip
    history = fit(model, train, val, config)
    accuracies = [e["val_accuracy"] for e in history.epochs]
    assert history.best_epoch == int(np.argmax(accuracies))
    assert history.best_loss == pytest.approx(1 - max(accuracies))
