"""The LeNet of the MNIST-addition experiments trained on the digit labels themselves.

Learning digits from sums can at best match learning them from their labels, and an N-digit sum
is right only when all its 2N digits are: this prints, per seed, the test accuracy of the same
LeNet with the same optimiser (AdamW), schedule and random shifts as ``benchmarks/results.py``'s
long carry rows, and the sum accuracy it implies, ``accuracy ** (2 N)``, for N = 15 and 100.

    python benchmarks/supervised_ceiling.py --data-dir ../shared/data --epochs 20 --seeds 3
"""

from __future__ import annotations

import argparse
import functools

import numpy as np
import torch
from tqdm.auto import tqdm

from nesy_models.data import load_mnist
from nesy_models.experiment import digit_accuracy
from nesy_models.learners.training import TrainConfig, learning_rate, shifted_images
from nesy_models.models import LeNet, classify


def train(images: np.ndarray, labels: np.ndarray, config: TrainConfig) -> LeNet:
    """LeNet trained with cross-entropy on (images, labels) under ``config``."""
    torch.manual_seed(config.seed)
    net = LeNet()
    optimiser = torch.optim.AdamW(net.parameters(), config.lr, weight_decay=config.weight_decay)
    order = np.random.default_rng(config.seed)
    steps = -(-len(labels) // config.batch_size)
    for epoch in tqdm(range(config.epochs), desc=f"seed {config.seed}"):
        for i, rows in enumerate(np.array_split(order.permutation(len(labels)), steps)):
            for group in optimiser.param_groups:
                group["lr"] = float(learning_rate(config, epoch * steps + i, steps))
            batch = shifted_images(images[rows], config, epoch, i)
            loss = torch.nn.functional.cross_entropy(
                net(torch.from_numpy(batch))[1], torch.from_numpy(labels[rows])
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return net.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--augment", type=int, default=2, help="random shifts (pixels)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train_set, test_set = load_mnist(args.data_dir, "train"), load_mnist(args.data_dir, "test")
    print(f"{'seed':>4} {'digit acc %':>11} {'N=15 sums %':>11} {'N=100 sums %':>12}")
    for seed in range(args.seeds):
        config = TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            schedule="cosine",
            augment=args.augment,
            seed=seed,
        )
        net = train(np.asarray(train_set.images), np.asarray(train_set.labels), config)
        accuracy = digit_accuracy(functools.partial(classify, net), test_set)
        print(
            f"{seed:>4} {100 * accuracy:>11.2f} {100 * accuracy**30:>11.1f} "
            f"{100 * accuracy**200:>12.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
