"""Training and scoring the terrain network on path labels (the EM-NeSy paper's table 3).

Metrics, as A-NeSI scores them: ``cost_match``, the share of maps whose path found on the
predicted costs costs, under the true costs, no more than the optimal path (within 1e-4: an
equally cheap path counts as right); ``path_match``, the share whose path is the label's exactly;
``cell_accuracy``, the share of cells whose most probable class is the true one (never seen in
training). The predicted costs are each cell's expected cost under the network's distribution.
The model kept is the one of the best validation cost match.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from nesy_ir.errors import NesyError

from ..checks import OptionError, at_least, non_negative, one_of, positive
from ..data import epoch_batches
from ..engines import check_engine
from ..learners.em import EM
from ..options import EM_VARIANTS, PATH_LEARNERS
from .clusters import start_from_clusters
from .data import SPLIT_SIZES, Maps, cached_splits, make_splits
from .learners import BlackboxStep, TerrainModel, expected_costs
from .network import TerrainNet
from .solver import path_costs, shortest_paths
from .task import shortest_path_task


@dataclass(frozen=True)
class ShortestPathConfig:
    """The options of :func:`train_shortest_path` (checked when made)."""

    size: int = 12
    maps: tuple[int, int, int] = SPLIT_SIZES
    data_seed: int = 0
    cache: str | None = None
    learner: str = "em"
    engine: str = "abc-nearest"
    em: str = "soft"
    samples: int = 100
    m_steps: int = 1
    balance: float = 0.0
    cluster_init: int = 0
    lam: float = 20.0
    epochs: int = 10
    batch_size: int = 32
    lr: float = 3e-3
    patience: int = 5
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        at_least("size", self.size, 2)
        if len(self.maps) != 3:
            raise OptionError(f"maps must be (train, validation, test) counts, got {self.maps!r}")
        for part, count in zip(("train", "validation", "test"), self.maps, strict=True):
            at_least(f"maps ({part})", count, 1)
        one_of("learner", self.learner, PATH_LEARNERS)
        one_of("em", self.em, EM_VARIANTS)
        for name in ("samples", "m_steps", "epochs", "batch_size", "patience"):
            at_least(name, getattr(self, name), 1)
        at_least("cluster_init", self.cluster_init, 0)
        positive("lr", self.lr)
        positive("lam", self.lam)
        non_negative("balance", self.balance)
        if self.learner == "em":
            check_engine(self.engine, shortest_path_task(2))


@torch.no_grad()
def evaluate(net: TerrainNet, maps: Maps, batch_size: int = 256) -> dict[str, float]:
    """Cost match, exact path match and cell accuracy of ``net`` on ``maps`` (see the module)."""
    net.eval()
    size, cost_ok, path_ok, cells_ok = maps.classes.shape[-1], 0, 0, 0
    for start in range(0, len(maps), batch_size):
        rows = np.arange(start, min(start + batch_size, len(maps)))
        logits = net(maps.images(rows))
        found = shortest_paths(expected_costs(logits, size))[0]
        cost_ok += int(cost_matches(found, maps, rows).sum())
        path_ok += int((found == torch.from_numpy(maps.paths[rows])).all(-1).all(-1).sum())
        true_classes = torch.from_numpy(maps.classes[rows].reshape(len(rows), -1).astype(np.int64))
        cells_ok += int((logits.argmax(-1) == true_classes).sum())
    n = max(len(maps), 1)
    return {
        "cost_match": cost_ok / n,
        "path_match": path_ok / n,
        "cell_accuracy": cells_ok / (n * size * size),
    }


def uniform_cost_match(maps: Maps) -> float:
    """The cost match of the path found on uniform costs (the straight diagonal): what a
    network that has learned nothing scores."""
    found = shortest_paths(torch.ones(maps.paths.shape))[0]
    return float(cost_matches(found, maps).float().mean())


def cost_matches(found: torch.Tensor, maps: Maps, rows=slice(None)) -> torch.Tensor:
    """(B,) bool: whether each path ``found`` (B, N, N) on maps ``rows`` costs, under the true
    costs, no more than the label path (within 1e-4: ties count as right)."""
    truth = maps.costs(rows)
    optimal = path_costs(torch.from_numpy(maps.paths[rows]), truth)
    return path_costs(found, truth) <= optimal + 1e-4


def train_shortest_path(config: ShortestPathConfig, keep_test: bool = False):
    """Train on ``config``'s maps, keep the epoch of best validation cost match, test: (the
    metrics and per-epoch history as a JSON-ready dict, the network) and, with ``keep_test``,
    the test maps."""
    torch.manual_seed(config.seed)
    if config.cache:
        train, val, test = cached_splits(config.cache, config.size, config.data_seed, config.maps)
    else:
        train, val, test = make_splits(config.size, config.data_seed, config.maps)
    net = TerrainNet()
    explained = None
    if config.cluster_init:
        explained = start_from_clusters(net, train, config.cluster_init, config.seed)
    model = TerrainModel(shortest_path_task(config.size), net)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr)
    if config.learner == "em":
        learner = EM(
            config.engine, config.em, config.samples, config.m_steps, config.seed, config.balance
        )
    else:
        learner = BlackboxStep(config.lam)
    history, best, best_epoch, best_state = [], -1.0, 0, None
    for epoch in range(config.epochs):
        net.train()
        began, totals = time.perf_counter(), {}
        batches = epoch_batches(len(train), config.batch_size, config.seed, epoch)
        for i, rows in enumerate(
            tqdm(batches, f"epoch {epoch + 1}", disable=not config.progress, leave=False)
        ):
            images = train.images(rows)
            targets = torch.from_numpy(train.paths[rows].reshape(len(rows), -1)).long()
            done = learner.step(model, model, images, targets, optimiser, epoch * len(batches) + i)
            for key, value in done.items():
                totals[key] = totals.get(key, 0.0) + value * (len(rows) if key == "loss" else 1)
        if totals.get("fallbacks") == len(train):
            raise NesyError(
                f"epoch {epoch + 1}: no draw of the {config.engine} engine ({config.samples} per"
                " map) made any label path a shortest path, so the network learns nothing: use"
                " --engine abc-nearest (the draws nearest to it) or more --samples"
            )
        record = {"epoch": epoch + 1, "seconds": time.perf_counter() - began}
        record["train_loss"] = totals.pop("loss") / len(train)
        if "accepted" in totals:
            totals["acceptance"] = totals.pop("accepted") / len(train)  # a share per map
        record |= totals | {f"val_{k}": v for k, v in evaluate(net, val).items()}
        history.append(record)
        if record["val_cost_match"] > best:
            best, best_epoch = record["val_cost_match"], epoch
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        elif epoch - best_epoch >= config.patience:
            break
    net.load_state_dict(best_state)
    scores = evaluate(net, test)
    metrics = {
        **{k: v for k, v in asdict(config).items() if k != "progress"},
        "parameters": sum(p.numel() for p in net.parameters()),
        **{f"test_{k}": v for k, v in scores.items()},
        "test_uniform_cost_match": uniform_cost_match(test),
        "cluster_naming_explained": explained,
        "seconds_per_epoch": float(np.mean([r["seconds"] for r in history])),
        "history": history,
    }
    return (metrics, net, test) if keep_test else (metrics, net)
