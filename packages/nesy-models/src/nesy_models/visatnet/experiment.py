"""The MNIST experiment of source section 4 (Table 1's protocol, Fig. 3's loss curves).

Per seed: train LeNet-5, extract unit feature vectors, train one Vi-SATNet per digit on
``per_class`` training images of that digit (validation on ``val_per_class`` others), then
classify ``test_size`` test images at mask ratios 10%..100%: without re-generation (masked
vectors set to the uniform unit vector, straight into C) and with it (Vi-C agreement, Alg. 1).
The table is the median over seeds; the model of the first seed is saved for ``nesy explain``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from nesy_models.checks import OptionError, at_least, read_checkpoint
from nesy_models.data import load_mnist
from nesy_models.visatnet.agreement import vi_c_agreement
from nesy_models.visatnet.errors import ViSATNetError
from nesy_models.visatnet.features import apply_mask, random_mask
from nesy_models.visatnet.layer import ViSATNet
from nesy_models.visatnet.lenet import LeNet5
from nesy_models.visatnet.training import LayerConfig, mask_ratios, train_layer, train_lenet

RATIOS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
CLASSES = 10


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything one ``nesy train visatnet`` run depends on."""

    data_dir: str | None = None
    seeds: tuple[int, ...] = (0,)
    lenet_epochs: int = 2
    lenet_train_size: int = 60000
    per_class: int = 500
    val_per_class: int = 100
    test_size: int = 1000
    ratios: tuple[float, ...] = RATIOS
    layer: LayerConfig = field(default_factory=LayerConfig)

    def __post_init__(self) -> None:
        """Every option is checked here, once (the layer's by :class:`LayerConfig`)."""
        if not self.seeds:
            raise OptionError("seeds must name at least one seed, got none")
        for seed in self.seeds:
            at_least("seed", seed, 0)
        at_least("lenet_epochs", self.lenet_epochs, 1)
        at_least("lenet_train_size", self.lenet_train_size, 1)
        at_least("per_class", self.per_class, 1)
        at_least("val_per_class", self.val_per_class, 1)
        at_least("test_size", self.test_size, 1)
        mask_ratios(self.ratios)


def _tensors(data_dir: str | None, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    digits = load_mnist(data_dir, split)
    return torch.from_numpy(np.array(digits.images)), torch.from_numpy(np.array(digits.labels))


def _per_class(vectors: torch.Tensor, labels: torch.Tensor, start: int, count: int) -> list:
    chosen = [vectors[labels == c][start : start + count] for c in range(CLASSES)]
    short = [c for c, v in enumerate(chosen) if len(v) == 0]
    if short:
        raise ViSATNetError(f"no training images left for classes {short} (per_class too large?)")
    return chosen


def evaluation_masks(
    count: int, n: int, ratios: tuple[float, ...], seed: int
) -> list[torch.Tensor]:
    """The test masks of an evaluation with ``seed``: one (count, n) mask per ratio, drawn in
    order, so the same seed and ratios give the same masks in every run and script."""
    generator = torch.Generator().manual_seed(10_000 + seed)
    return [random_mask(count, n, ratio, generator) for ratio in ratios]


@torch.no_grad()
def test_vectors(
    model: LeNet5, data_dir: str | None, test_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit feature vectors and labels of the first ``test_size`` MNIST test images."""
    digits = load_mnist(data_dir, "test")
    images = torch.from_numpy(digits.images[:test_size].copy())
    return model.extract(images), torch.from_numpy(digits.labels[:test_size].copy())


@torch.no_grad()
def accuracy_table(
    model: LeNet5,
    layers: list[ViSATNet],
    vectors: torch.Tensor,
    labels: torch.Tensor,
    ratios: tuple[float, ...],
    seed: int,
) -> list[dict[str, float]]:
    """Accuracy (%) per mask ratio without and with re-generation, one random mask per image
    (drawn from ``seed``); "with" breaks Vi-C ties by consistency, "with_confidence" by C's
    confidence (see :mod:`nesy_models.visatnet.agreement`)."""
    rows = []
    masks = evaluation_masks(len(vectors), vectors.shape[1], ratios, seed)
    for ratio, mask in tqdm(list(zip(ratios, masks, strict=True)), desc="mask ratios", leave=False):
        predicted = {"without": model.classify(apply_mask(vectors, mask)).argmax(-1)}
        for key, tie_break in (("with", "consistency"), ("with_confidence", "confidence")):
            predicted[key] = vi_c_agreement(layers, model.classify, vectors, mask, tie_break)
        rows.append(
            {"mask_ratio": ratio}
            | {k: 100.0 * float((p == labels).float().mean()) for k, p in predicted.items()}
        )
    return rows


def run_seed(config: ExperimentConfig, seed: int, data: dict) -> dict:
    """One seed: LeNet-5, ten Vi-SATNets, the accuracy table; also the trained objects."""
    start = time.perf_counter()
    images, labels = data["train"]
    size = min(config.lenet_train_size, len(images))
    model = train_lenet(images[:size], labels[:size], config.lenet_epochs, seed=seed)
    vectors = model.extract(images)
    test_images, test_labels = data["test"]
    test_images, test_labels = test_images[: config.test_size], test_labels[: config.test_size]
    test_vectors = model.extract(test_images)
    head_correct = model.classify(test_vectors).argmax(-1) == test_labels
    head_accuracy = 100.0 * float(head_correct.float().mean())
    train_sets = _per_class(vectors, labels, 0, config.per_class)
    val_sets = _per_class(vectors, labels, config.per_class, config.val_per_class)
    layers, histories = [], []
    for digit in range(CLASSES):
        layer, history = train_layer(train_sets[digit], val_sets[digit], config.layer, seed + digit)
        layers.append(layer.eval())
        histories.append(history)
    table = accuracy_table(model, layers, test_vectors, test_labels, config.ratios, seed)
    return {
        "seed": seed,
        "head_accuracy": head_accuracy,
        "table": table,
        "losses": histories,
        "seconds": time.perf_counter() - start,
        "model": model,
        "layers": layers,
    }


def median_table(runs: list[dict]) -> list[dict[str, float]]:
    """The per-ratio median over seeds of every accuracy column."""
    rows = []
    for i, row in enumerate(runs[0]["table"]):
        rows.append(
            {
                "mask_ratio": row["mask_ratio"],
                **{
                    key: float(np.median([run["table"][i][key] for run in runs]))
                    for key in ("without", "with", "with_confidence")
                },
            }
        )
    return rows


def save_model(path: str | Path, model: LeNet5, layers: list[ViSATNet], config: LayerConfig):
    """Write the LeNet-5 and the Vi-SATNets' state to ``path`` (for ``nesy explain``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "lenet": model.state_dict(),
            "layers": [layer.state_dict() for layer in layers],
            "layer_config": asdict(config),
        },
        path,
    )


def load_model(path: str | Path) -> tuple[LeNet5, list[ViSATNet]]:
    """The LeNet-5 and Vi-SATNets saved by :func:`save_model`."""
    path = Path(path)
    if not path.is_file():
        raise ViSATNetError(
            f"no Vi-SATNet model at {path}: train one first (nesy train visatnet --out"
            f" {path.parent})"
        )
    state = read_checkpoint(path, _load, "a Vi-SATNet model (from nesy train visatnet)")
    try:
        model = LeNet5()
        model.load_state_dict(state["lenet"])
        config = LayerConfig(**state["layer_config"])
        layers = []
        for layer_state in state["layers"]:
            k = model.extractor[3].out_channels
            n = layer_state["S"].shape[0] - 1 - config.aux - k
            layer = ViSATNet(n, k, config.m, config.aux, config.max_iter, config.eps)
            layer.load_state_dict(layer_state)
            layers.append(layer.eval())
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as e:
        why = f"it has no {e}" if isinstance(e, KeyError) else (str(e).splitlines() or [""])[0]
        raise ViSATNetError(f"{path} is not a Vi-SATNet model: {why}") from None
    return model.eval().requires_grad_(False), layers


def _load(path: Path):
    return torch.load(path, weights_only=True)


def run_experiment(config: ExperimentConfig) -> dict:
    """All seeds; the metrics (per-seed and median tables, losses) and the first seed's model."""
    data = {split: _tensors(config.data_dir, split) for split in ("train", "test")}
    runs = [run_seed(config, seed, data) for seed in config.seeds]
    metrics = {
        "config": asdict(config),
        "data": load_mnist(config.data_dir, "test").source,
        "median": median_table(runs),
        "runs": [{k: v for k, v in run.items() if k not in ("model", "layers")} for run in runs],
    }
    return {"metrics": metrics, "model": runs[0]["model"], "layers": runs[0]["layers"]}
