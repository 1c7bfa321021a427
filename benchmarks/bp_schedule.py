"""Belief propagation on a tree: one two-pass round against the iterated serial schedule.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bp_schedule.py [--digits 4 15 100]

On MNIST addition's carry encoding (a chain of columns, a tree), times, side by side in one
process on the same random distributions: the E-step (posterior marginals, no gradient) and
backprop's step (the Bethe log-likelihood, forward and backward), once with the tree schedule
(the factors swept from the leaves to a root and back, one round) and once with the schedule
for graphs with cycles (rounds until no message moves, here two: one to settle, one to see
it settled). Both must give the same values; the ratio is iterated / tree.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools

import numpy as np
import torch

from mnist_addition import timed
from nesy_models.engines.bp import belief_propagation, bethe_log_likelihood
from nesy_models.tasks import mnist_addition
from nesy_models.tasks.factor_graph import FactorGraph


@dataclasses.dataclass(frozen=True)
class Iterated(FactorGraph):
    """The same graph, propagated as if it had cycles."""

    def is_tree(self) -> bool:
        return False


def compare(n: int, batch: int, repeat: int) -> None:
    """Print the rows of ``n`` digits: each step's ms with either schedule."""
    tree = mnist_addition(n, "carry")
    graph = tree.factor_graph
    iterated = dataclasses.replace(
        tree, factor_graph=Iterated(graph.sizes, graph.factors, graph.symbols)
    )
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(batch, 2 * n, 10, generator=generator, requires_grad=True)
    digits = np.random.default_rng(0).integers(0, 10, (batch, 2 * n))
    targets = torch.as_tensor(np.asarray(tree.symbolic(digits)))

    def e_step(task):
        return belief_propagation(task, logits.softmax(-1).detach(), targets).marginals

    def backprop(task):
        value = bethe_log_likelihood(task, logits.softmax(-1), targets)
        value.sum().backward()
        return value.detach()

    for name, step in (("E-step", e_step), ("backprop", backprop)):
        torch.testing.assert_close(step(tree), step(iterated), rtol=1e-5, atol=1e-6)
        ms = [timed(functools.partial(step, task), repeat) for task in (tree, iterated)]
        print(f"| {n} | {name} | {ms[0]:.1f} | {ms[1]:.1f} | {ms[1] / ms[0]:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--digits", type=int, nargs="+", default=[4, 15, 100])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"ms per batch of {args.batch}, median of {args.repeat}")
    print("| digits | step | tree | iterated | iterated / tree |")
    print("|---|---|---|---|---|")
    for n in args.digits:
        compare(n, args.batch, args.repeat)


if __name__ == "__main__":
    main()
