"""How much of the class a masked LeNet-5 feature map still carries: a classifier trained on it.

Vi-SATNet classifies masked feature maps with a *frozen* head C that never saw a mask. This
trains, per mask ratio, a classifier for exactly that input (an MLP on the 25 unit feature
vectors of a saved model's LeNet-5, masked vectors set to the uniform unit vector, fresh masks
of the ratio every epoch, all 60000 training images) and tests it on the test images and masks of
``nesy evaluate visatnet`` with the same --seed and --test-size. A discriminative reference
point, not a bound: what a model trained for the masked task reaches, beside Vi-C agreement.

    python benchmarks/visatnet_ceiling.py --model out/visatnet/seed0/model.pt --seed 0 \\
        --data-dir ../shared/data --ratios 0.6,0.7,0.8,0.9
"""

from __future__ import annotations

import argparse

import torch
from tqdm.auto import tqdm

from nesy_models.data import load_mnist
from nesy_models.visatnet.experiment import RATIOS, evaluation_masks, load_model, test_vectors
from nesy_models.visatnet.features import apply_mask, random_mask


def train_classifier(
    vectors: torch.Tensor, labels: torch.Tensor, ratio: float, epochs: int, seed: int
) -> torch.nn.Module:
    """An MLP (n * K -> 256 -> 256 -> 10) trained with Adam on ``vectors`` masked at ``ratio``."""
    torch.manual_seed(seed)
    n, k = vectors.shape[1:]
    net = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(n * k, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )
    optimiser = torch.optim.Adam(net.parameters(), 1e-3)
    generator = torch.Generator().manual_seed(seed)
    for _ in tqdm(range(epochs), desc=f"ratio {ratio}", leave=False):
        for batch in torch.randperm(len(vectors), generator=generator).split(128):
            mask = random_mask(len(batch), n, ratio, generator)
            logits = net(apply_mask(vectors[batch], mask))
            loss = torch.nn.functional.cross_entropy(logits, labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return net.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="out/visatnet/seed0/model.pt")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--seed", type=int, default=0, help="the masks of this evaluation seed")
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--ratios", default="0.6,0.7,0.8,0.9")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    wanted = [float(r) for r in args.ratios.split(",")]
    model, _ = load_model(args.model)
    train = load_mnist(args.data_dir, "train")
    with torch.no_grad():
        vectors = model.extract(torch.from_numpy(train.images.copy()))
    labels = torch.from_numpy(train.labels.copy())
    test, test_labels = test_vectors(model, args.data_dir, args.test_size)
    masks = evaluation_masks(len(test), test.shape[1], RATIOS, args.seed)  # as nesy evaluate's
    print(f"{'mask ratio %':>12} {'trained classifier %':>20} {'frozen C %':>10}")
    for ratio, mask in zip(RATIOS, masks, strict=True):
        if not any(abs(ratio - w) < 1e-9 for w in wanted):
            continue
        net = train_classifier(vectors, labels, ratio, args.epochs, args.seed)
        masked = apply_mask(test, mask)
        with torch.no_grad():
            trained = float((net(masked).argmax(-1) == test_labels).float().mean())
            frozen = float((model.classify(masked).argmax(-1) == test_labels).float().mean())
        print(f"{100 * ratio:>12.0f} {100 * trained:>20.1f} {100 * frozen:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
