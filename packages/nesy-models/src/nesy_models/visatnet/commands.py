"""What ``nesy train|explain|evaluate visatnet`` run (parsers in nesy_models.cli)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from nesy_models.checks import at_least, between, writable
from nesy_models.data import load_mnist
from nesy_models.experiment import write_json
from nesy_models.visatnet.errors import ViSATNetError
from nesy_models.visatnet.experiment import (
    CLASSES,
    RATIOS,
    ExperimentConfig,
    accuracy_table,
    load_model,
    run_experiment,
    save_model,
    test_vectors,
)
from nesy_models.visatnet.features import random_mask
from nesy_models.visatnet.msfs import minimal_significant_set
from nesy_models.visatnet.plots import plot_loss_curves
from nesy_models.visatnet.receptive import effective_receptive_fields, plot_significant_sets
from nesy_models.visatnet.rules import discretise, rule_agreement
from nesy_models.visatnet.training import LayerConfig, mask_ratios

RULE_IMAGES = 10  # test images per class for the rule-agreement report


def _rule_report(experiment: dict, config: ExperimentConfig, threshold: float) -> dict:
    """Discretised rules of each class vs its layer, on test images of that class."""
    model, layers = experiment["model"], experiment["layers"]
    digits = load_mnist(config.data_dir, "test")
    images = torch.from_numpy(digits.images[config.test_size :].copy())
    labels = torch.from_numpy(digits.labels[config.test_size :].copy())
    generator = torch.Generator().manual_seed(config.seeds[0])
    report = {}
    for digit in range(CLASSES):
        vectors = model.extract(images[labels == digit][:RULE_IMAGES])
        mask = random_mask(len(vectors), vectors.shape[1], config.layer.mask_ratio, generator)
        clauses = discretise(layers[digit].S, threshold)
        result = rule_agreement(layers[digit], clauses, vectors, mask)
        report[str(digit)] = {"clauses": len(clauses), **result}
    return report


def train(args: argparse.Namespace) -> int:
    """Run the experiment, save the model and loss curves, print the median table."""
    layer = LayerConfig(
        m=args.m,
        max_iter=args.max_iter,
        mask_ratio=args.mask_ratio,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
    )
    config = ExperimentConfig(
        data_dir=args.data_dir,
        seeds=tuple(range(args.seed, args.seed + args.seeds)),
        lenet_epochs=args.lenet_epochs,
        lenet_train_size=args.lenet_train_size,
        per_class=args.per_class,
        val_per_class=args.val_per_class,
        test_size=args.test_size,
        layer=layer,
    )  # the configs check their options; the rest are checked here, before any work
    between("rule_threshold", args.rule_threshold, 0.0, 1.0, low_open=True)
    at_least("threads", args.threads, 1)
    out = Path(args.out)
    for path in (out / "model.pt", out / "losses.png", *([args.json] if args.json else [])):
        writable(path)
    torch.set_num_threads(args.threads)
    experiment = run_experiment(config)
    metrics = experiment["metrics"]
    save_model(out / "model.pt", experiment["model"], experiment["layers"], layer)
    metrics["loss_curves"] = str(plot_loss_curves(metrics["runs"][0]["losses"], out / "losses.png"))
    metrics["rules"] = _rule_report(experiment, config, args.rule_threshold)
    print(json.dumps({"median": metrics["median"]}, indent=1))
    if args.json:
        write_json(metrics, args.json)
    return 0


def explain(args: argparse.Namespace) -> int:
    """Find the MSF of one test image's target vector and draw it (and an alpha sweep)."""
    for alpha in [args.alpha, *(args.sweep or [])]:
        between("alpha", alpha, 0.0, 1.0)
    at_least("target", args.target, 0)
    writable(args.out)
    model, layers = load_model(args.model)
    digits = load_mnist(args.data_dir, "test")
    if not 0 <= args.image < len(digits.images):
        raise ViSATNetError(f"--image must be in 0..{len(digits.images) - 1}, got {args.image}")
    image = torch.from_numpy(digits.images[args.image].copy())
    label = int(digits.labels[args.image])
    vectors = model.extract(image.unsqueeze(0))[0]
    layer = layers[label]
    fields = effective_receptive_fields(model, image)
    found = minimal_significant_set(layer, vectors, args.target, args.alpha)
    plot_significant_sets(image, fields, [found], args.out)
    result = {"image": args.image, "label": label, "msfs": [found.__dict__]}
    if args.sweep:
        sweep = [minimal_significant_set(layer, vectors, args.target, a) for a in args.sweep]
        out = Path(args.out)
        sweep_path = out.with_name(f"{out.stem}-sweep{out.suffix or '.png'}")
        plot_significant_sets(image, fields, sweep, sweep_path)
        result["sweep"] = [s.__dict__ for s in sweep]
        result["sweep_png"] = str(sweep_path)
    print(json.dumps(result, default=list))
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """The accuracy table of a saved model on the first test images (the masks of a training
    run with the same --seed and --test-size)."""
    at_least("seed", args.seed, 0)
    at_least("test_size", args.test_size, 1)
    at_least("threads", args.threads, 1)
    if args.ratios is not None:
        mask_ratios(tuple(args.ratios))
    if args.json:
        writable(args.json)
    torch.set_num_threads(args.threads)
    model, layers = load_model(args.model)
    vectors, labels = test_vectors(model, args.data_dir, args.test_size)
    table = accuracy_table(model, layers, vectors, labels, tuple(args.ratios or RATIOS), args.seed)
    result = {"model": args.model, "seed": args.seed, "test_size": len(labels), "table": table}
    print(json.dumps(result, indent=1))
    if args.json:
        write_json(result, args.json)
    return 0
