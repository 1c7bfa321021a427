"""What a trained scene-graph model predicts for one scene, each relation with its reasoning:
a primitive relation comes from the bridge (perception), a composed one from the rule engine,
with the chains of bound objects behind its score (:func:`~nesy_models.neurorule.explain`);
and a picture of the scene with one prediction's chain drawn on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from ...data.errors import DataError
from ..explain import Explanation, explain
from .generate import SceneSet
from .model import SceneModel
from .relations import CATEGORIES, COMPOSED, PREDICATES
from .train import tensors

__all__ = ["Prediction", "draw_prediction", "object_names", "scene_predictions"]


@dataclass(frozen=True)
class Prediction:
    """A predicted relation ``predicate(subject, object)`` (object indices) with its
    probability, and the rule engine's explanation for a composed one (None otherwise)."""

    subject: int
    predicate: str
    object: int
    probability: float
    explanation: Explanation | None

    def text(self, names: list[str]) -> str:
        head = (
            f"{self.predicate}({names[self.subject]}, {names[self.object]}):"
            f" P {self.probability:.3f}"
        )
        if self.explanation is None:
            return f"{head}, from the bridge (pixels and boxes)"
        return "\n".join([head, *(f"  {c}".replace("\n", "\n  ") for c in self.explanation.chains)])


def object_names(scenes: SceneSet, index: int) -> list[str]:
    """``<category><i>`` for each object of scene ``index`` (e.g. ``cross2``)."""
    n = int(scenes.counts[index])
    return [f"{CATEGORIES[c]}{i}" for i, c in enumerate(scenes.categories[index, :n])]


def scene_predictions(
    model: SceneModel, scenes: SceneSet, index: int, threshold: float = 0.5, chains: int = 2
) -> list[Prediction]:
    """Every relation of scene ``index`` predicted with probability at least ``threshold``,
    most probable first; composed ones explained by their ``chains`` best rules."""
    if not 0 <= index < len(scenes):
        raise DataError(f"scene {index} does not exist: the split has {len(scenes)} scenes")
    images, boxes, categories, counts, _ = tensors(scenes, slice(index, index + 1))
    model.eval()
    with torch.no_grad():
        scores = model(images, boxes, categories, counts)
    probability = torch.sigmoid(scores.logits[0]).numpy()
    n = int(counts[0])
    names = object_names(scenes, index) + [f"pad{i}" for i in range(n, boxes.shape[1])]
    out = []
    for p, s, o in np.argwhere(probability[:, :n, :n] >= threshold):
        if s == o:
            continue
        predicate = PREDICATES[p]
        why = None
        if model.rules is not None and predicate in COMPOSED:
            relation = model.rules.relations.index(predicate)
            why = explain(model.rules, scores.adjacency[0], (s, relation, o), chains, names)
        out.append(Prediction(int(s), predicate, int(o), float(probability[p, s, o]), why))
    return sorted(out, key=lambda x: -x.probability)


def draw_prediction(
    scenes: SceneSet, index: int, prediction: Prediction | None, path: str | os.PathLike
) -> None:
    """Save a PNG of scene ``index``: its boxes named, and ``prediction`` drawn as an arrow
    from subject to object, with the steps of its best chain as arrows labelled by predicate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = object_names(scenes, index)
    boxes = scenes.boxes[index, : len(names)]
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(scenes.images[index].transpose(1, 2, 0), interpolation="nearest")
    for name, (x0, y0, x1, y1) in zip(names, boxes, strict=True):
        ax.add_patch(
            plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec="w", lw=0.8)
        )
        ax.text(x0, y0 - 1, name, color="w", fontsize=7, va="bottom")
    centre = {
        n: ((b[0] + b[2]) / 2 - 0.5, (b[1] + b[3]) / 2 - 0.5)
        for n, b in zip(names, boxes, strict=True)
    }
    title = "no prediction drawn"
    if prediction is not None:
        s, o = names[prediction.subject], names[prediction.object]
        title = f"{prediction.predicate}({s}, {o}), P {prediction.probability:.2f}"
        ax.annotate(
            "",
            centre[o],
            centre[s],
            arrowprops={"arrowstyle": "->", "color": "yellow", "lw": 2, "ls": "--"},
        )
        if prediction.explanation is not None and prediction.explanation.chains:
            chain = prediction.explanation.chains[0]
            title += f"\n{chain.rule}"
            for step in chain.steps:
                if step.subject == step.object:
                    continue
                a, b = centre[step.subject], centre[step.object]
                ax.annotate("", b, a, arrowprops={"arrowstyle": "->", "color": "cyan", "lw": 1.5})
                ax.text(
                    (a[0] + b[0]) / 2,
                    (a[1] + b[1]) / 2,
                    f"{step.predicate} {step.truth:.2f}",
                    color="cyan",
                    fontsize=8,
                )
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
