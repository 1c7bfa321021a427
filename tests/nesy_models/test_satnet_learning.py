"""SATNet learns the SATNet paper's tasks from input/output examples: parity and 4x4 Sudoku.

The loss covers only the variables that are not given (no label leakage: a given value is
returned unchanged, so it would be a free target), and Sudoku is scored on held-out boards.
"""

import pytest
import torch
from torch.nn.functional import binary_cross_entropy

from nesy_models.satnet import SATNet
from nesy_models.satnet.puzzles import parity_examples, sudoku_boards, sudoku_puzzles


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The steps are small: a second thread only contends on a shared two-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _fit(layer, batches, steps, lr):
    """Adam on the binary cross-entropy of the free variables; ``batches(step) -> (z, given)``."""
    optimiser = torch.optim.Adam(layer.parameters(), lr=lr)
    for step in range(steps):
        z, given = batches(step)
        out = layer(torch.where(given, z, 0.0), given)
        loss = binary_cross_entropy(out[~given], z[~given])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return loss.item()


def test_learns_parity():
    z, given = parity_examples()
    z, given = z.repeat(8, 1), given.repeat(8, 1)
    layer = SATNet(3, 4, aux=1, seed=1)
    _fit(layer, lambda step: (z, given), steps=60, lr=0.1)
    with torch.no_grad():
        out = layer(torch.where(given, z, 0.0), given)
    assert torch.equal(out[:, 2] > 0.5, z[:, 2] > 0.5)
    assert (out[:, 2] - z[:, 2]).abs().max() < 0.05


def _sudoku_accuracy(hidden, steps, batch):
    """Cell accuracy and share of solved puzzles on 88 held-out boards after training."""
    gen = torch.Generator().manual_seed(0)
    boards = sudoku_boards()[torch.randperm(288, generator=gen)]
    train, test = boards[:200], boards[200:]
    layer = SATNet(64, 100, aux=50, seed=0)

    def batches(step):
        return sudoku_puzzles(train[torch.randint(200, (batch,), generator=gen)], hidden, gen)

    _fit(layer, batches, steps, lr=0.02)
    z, given = sudoku_puzzles(test, hidden, torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = layer(torch.where(given, z, 0.0), given)
    right = out.view(-1, 16, 4).argmax(-1) == z.view(-1, 16, 4).argmax(-1)
    hidden_cells = ~given.view(-1, 16, 4)[..., 0]
    return right[hidden_cells].float().mean().item(), right.all(1).float().mean().item()


def test_learns_4x4_sudoku_quickly():
    cells, solved = _sudoku_accuracy(hidden=6, steps=15, batch=40)
    assert cells > 0.9 and solved > 0.7  # chance: 0.25 per cell


@pytest.mark.slow
def test_learns_4x4_sudoku():
    cells, solved = _sudoku_accuracy(hidden=8, steps=100, batch=40)
    assert cells > 0.9 and solved > 0.75  # measured: 0.93 and 0.84
