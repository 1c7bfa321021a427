"""What ``nesy train neurorule-scenes`` and ``nesy explain neurorule-scenes`` run (their parsers
are in :mod:`nesy_models.cli`)."""

from __future__ import annotations

import argparse

import numpy as np
import torch

from ...checks import OptionError, at_least, between, writable
from ...cli import SCENE_OPTIONS
from ...experiment import write_json
from ..explain import learned_rules
from .checkpoint import load_scene_checkpoint, save_scene_checkpoint
from .config import ABLATION, SceneConfig
from .explain import draw_prediction, object_names, scene_predictions
from .generate import scene_splits
from .recall import KS
from .relations import COMPOSED, SINGLE_STEP
from .train import COMPOSED_IDS, scene_scores, train_scenes


def config_of(args: argparse.Namespace) -> SceneConfig:
    """The variant's options, overridden by those given (checked)."""
    given = {
        field: getattr(args, flag[2:].replace("-", "_"))
        for flag, (field, _, _) in SCENE_OPTIONS.items()
    }
    given = {k: v for k, v in given.items() if v is not None}
    if args.scenes is not None:
        given["scenes"] = tuple(args.scenes)
    return SceneConfig(
        **{**ABLATION[args.variant], **given}, seed=args.seed, progress=args.progress
    )


def report(metrics: dict) -> str:
    """The test report as a few lines of text."""
    test, zero = metrics["test"], metrics["zero_shot"]
    head = "".join(f"{f'R@{k}':>8}" for k in KS) + "".join(f"{f'mR@{k}':>8}" for k in KS)
    lines = [f"{'':26}{head}"]
    for name, prefix, source in (
        ("test, graph constraint", "", test),
        ("test, no graph constraint", "ng", test),
        ("test, composed only", "composed ng", test),
        ("zero-shot, composed only", "composed ng", zero),
    ):
        values = [source[f"{prefix}R@{k}"] for k in KS] + [source[f"{prefix}mR@{k}"] for k in KS]
        lines.append(f"{name:26}" + "".join(f"{v:8.1f}" for v in values))
    lines.append(
        f"composed relations' average precision: test {test['composed AP']:.1f} %,"
        f" zero-shot {zero['composed AP']:.1f} %"
    )
    for kind in ("single-step", "through-object"):
        lines.append(
            f"  {kind}: test {test[f'{kind} AP']:.1f} %, zero-shot {zero[f'{kind} AP']:.1f} %"
        )
    lines.append(
        f"{metrics['seconds_per_epoch']:.1f} s per epoch;"
        f" {1000 * metrics['train_seconds_per_image']:.2f} ms per training image,"
        f" {1000 * metrics['test_seconds_per_image']:.2f} ms per test image;"
        f" {metrics['parameters']['all']:,} parameters"
        f" ({metrics['parameters']['perception']:,} in perception)"
    )
    if "rules" in metrics:
        rules = metrics["rules"]
        lines.append(
            f"planted rules recovered: precision {rules['precision']:.0f} %,"
            f" recall {rules['recall']:.0f} %; planted:"
        )
        lines += [f"  {r}" for r in rules["planted"]]
    return "\n".join(lines)


def train(args: argparse.Namespace) -> int:
    """Train, print the PredCls report and the learned rules, save what was asked for."""
    config = config_of(args)
    at_least("threads", args.threads, 1)
    for path in (args.checkpoint, args.json_file, args.plot):
        if path:
            writable(path)
    torch.set_num_threads(args.threads)
    splits = scene_splits(config.scenes, config.data_seed, config.canvas, config.noise)
    metrics = train_scenes(config, splits, return_model=True)
    model = metrics.pop("model")
    print(f"NeuroRule on generated scene graphs, variant {args.variant} ({config.model}):")
    print(report(metrics))
    if model.rules is not None:
        print("learned rules (weight, head :- body):")
        for rule in learned_rules(model.rules, top=config.top_rules):
            print(f"  {rule}")
    if args.json_file:
        write_json(metrics, args.json_file)
    if args.checkpoint:
        save_scene_checkpoint(args.checkpoint, model, config)
        print(f"saved {args.checkpoint}")
    if args.plot:
        index, best = best_composed(model, splits["test"])
        draw_prediction(splits["test"], index, best, args.plot)
        print(f"test scene {index} with its best composed prediction saved to {args.plot}")
    return 0


def best_composed(model, scenes, limit: int = 50):
    """(scene index, prediction) of the most probable composed relation through another object
    (the chains worth drawing) among the first ``limit`` scenes, scored in one pass and explained
    alone (scene 0 and None if no such relation reaches 0.5)."""
    first = min(limit, len(scenes))
    through = [i for i, head in zip(COMPOSED_IDS, COMPOSED, strict=True) if head not in SINGLE_STEP]
    probability = scene_scores(model, scenes)[:first, through]
    for i, n in enumerate(scenes.counts[:first]):
        probability[i, :, n:] = probability[i, :, :, n:] = 0.0
        probability[i, :, range(n), range(n)] = 0.0
    index = int(np.unravel_index(probability.argmax(), probability.shape)[0])
    predictions = scene_predictions(model, scenes, index)
    composed = [
        p for p in predictions if p.predicate in COMPOSED and p.predicate not in SINGLE_STEP
    ]
    return (index, composed[0]) if composed else (0, None)


def explain(args: argparse.Namespace) -> int:
    """Print every relation predicted in one scene with its reasoning; draw one if asked."""
    between("threshold", args.threshold, 0.0, 1.0)
    at_least("chains", args.chains, 1)
    if args.plot:
        writable(args.plot)
    model, config = load_scene_checkpoint(args.checkpoint)
    scenes = scene_splits(config.scenes, config.data_seed, config.canvas, config.noise)[args.split]
    if not 0 <= args.scene < len(scenes):
        raise OptionError(
            f"scene {args.scene} does not exist: the {args.split} split has {len(scenes)} scenes"
        )
    names = object_names(scenes, args.scene)
    predictions = scene_predictions(model, scenes, args.scene, args.threshold, args.chains)
    print(f"{args.split} scene {args.scene}: {', '.join(names)}")
    for prediction in predictions:
        print(prediction.text(names))
    if args.plot:
        composed = [p for p in predictions if p.predicate in COMPOSED]
        draw_prediction(scenes, args.scene, composed[0] if composed else None, args.plot)
        print(f"saved {args.plot}")
    return 0
