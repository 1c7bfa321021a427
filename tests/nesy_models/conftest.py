"""Shared fixtures of the SATNet tests.

They run torch on one thread: the per-variable steps are small, and two threads on a shared
two-core machine make each of them many times slower.
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tight() -> dict:
    """Solver settings that converge to rounding on the small instances."""
    return {"max_iter": 1000, "eps": 1e-12}


def _random_instance(seed: int, batch: int = 3, n: int = 6, m: int = 8, k: int = 4):
    gen = torch.Generator().manual_seed(seed)
    S = torch.randn(n + 1, m, generator=gen, dtype=torch.float64) * 0.5
    z = torch.rand(batch, n, generator=gen, dtype=torch.float64) * 0.8 + 0.1
    is_input = torch.rand(batch, n, generator=gen) < 0.5
    is_input[0, 0], is_input[0, 1] = True, False  # at least one given and one free
    init = torch.randn(batch, n + 1, k, generator=gen, dtype=torch.float64)
    return S, z, is_input, init


@pytest.fixture
def random_instance():
    """A factory: seed -> (S (n+1, m), z (B, n), is_input (B, n), init (B, n+1, k)), float64."""
    return _random_instance
