"""MNIST addition speed: one training epoch, the logic alone by batch size, and its overhead.

    .venv/bin/python benchmarks/mnist_addition.py [--data-dir ../shared/data] [--digits 1]
        [--compiler auto|linear-sum|grounding]

Prints, in one run on this machine: compile time; the circuit's forward + backward alone
(random digit distributions in, gradient of the summed log-likelihood out) by batch size, scoring
every sum and scoring only each example's observed sum (the cones of its roots,
``nesy_torch.lower_cone``); the time per batch of 32 of LeNet alone (its images' cross-entropy)
and of LeNet + circuit as training runs it (the observed sums alone where the circuit has
``CONE_EDGES`` edges or more) and scoring every sum, and their ratios; then one epoch over every
image (30,000 pairs for N = 1, batch 32, AdamW) with its test accuracy. Reference points
measured on this kind of machine: DeepLog 5.0.0 logic-only
10.5 ms at batch 1024, 5.2 ms vs 3.4 ms per batch of 32 (1.49x), one N = 1 epoch 6.4 s at 95.2 %.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from nesy_ir.allocator import reuse_freed_memory
from nesy_models.data import addition_dataset, load_mnist
from nesy_models.learners import Split, TrainConfig, evaluate, fit
from nesy_models.models import TaskModel
from nesy_models.options import COMPILERS
from nesy_models.tasks import mnist_addition
from nesy_models.tasks.addition import standard_sum
from nesy_torch import lower_cone


def timed(fn, repeat: int) -> float:
    """Median milliseconds of ``fn()`` over ``repeat`` runs, after two warm-up runs."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return 1e3 * float(np.median(times))


def every_sum(model: TaskModel, batch: int):
    """Forward + backward of every sum's root at ``batch`` (random digit distributions in, the
    summed log-likelihood's gradient out)."""
    x = torch.rand(batch, len(model.label_index)).requires_grad_()
    return lambda: log_likelihood(model.circuit.matrix(x))


def log_likelihood(scores: torch.Tensor) -> None:
    """The summed log-likelihood of ``scores`` and its backward, as :func:`every_sum` ends."""
    scores.clamp_min(1e-12).log().sum().backward()


def circuit_alone(model: TaskModel, batch: int):
    """:func:`every_sum` 's forward + backward of the circuit alone: a given gradient of every
    sum's value in (laid out as the values are, as an elementwise loss gives it), no loss
    computed."""
    x = torch.rand(batch, len(model.label_index)).requires_grad_()
    grad = torch.rand_like(model.circuit.matrix(x.detach()))
    return lambda: model.circuit.matrix(x).backward(grad)


def loss_alone(model: TaskModel, batch: int):
    """:func:`log_likelihood` alone on every sum's values at ``batch`` (the part of
    :func:`every_sum` that torch runs on the circuit's (batch, sums) output)."""
    x = torch.rand(batch, len(model.label_index))
    scores = model.circuit.matrix(x).detach().requires_grad_()
    return lambda: log_likelihood(scores)


def logic_only(model: TaskModel, cone, batch: int, digits: int) -> tuple[float, float]:
    """ms of forward + backward at ``batch``: every sum's root, and each example's observed sum
    alone (the sums of random digits)."""
    x = torch.rand(batch, len(model.label_index)).requires_grad_()
    sums = standard_sum(digits, np.random.default_rng(0).integers(0, 10, (batch, 2 * digits)))
    roots = model.value_root[torch.as_tensor(sums)]

    def observed():
        log_likelihood(cone(x, roots))

    repeat = 20 if batch <= 256 else 10
    return timed(every_sum(model, batch), repeat), timed(observed, repeat)


def per_sum(digits: list[int], batches: list[int]) -> None:
    """Microseconds per sum of scoring every sum (as :func:`every_sum`) for each N of
    ``digits``, in one process, the circuits timed in turn in each of five rounds (each one's
    best round's median), so that the machine's load affects them alike."""
    models = {n: TaskModel(mnist_addition(n)) for n in digits}
    sums = {n: len(m.circuit.names) for n, m in models.items()}
    print(
        "every sum, forward + backward: ms (us per sum); of it, the circuit alone (a gradient"
        " given) and the log-likelihood's ops on the (batch, sums) values alone"
    )
    head = (f"N={n} ({sums[n]} sums)" for n in digits)
    parts = "".join(f" {p + ' alone':>24}" for p in list(PARTS)[1:])
    print(f"{'batch':>6} " + " ".join(f"{h:>24}{parts}" for h in head))
    for b in batches:
        steps = {(n, part): fn(m, b) for n, m in models.items() for part, fn in PARTS.items()}
        repeat = 20 if b <= 256 else 5
        rounds = [{k: timed(step, repeat) for k, step in steps.items()} for _ in range(5)]
        ms = {k: min(r[k] for r in rounds) for k in steps}
        cells = (
            f"{ms[n, part]:>12.3f} ({1e3 * ms[n, part] / sums[n]:>7.3f} us)"
            for n in digits
            for part in PARTS
        )
        print(f"{b:>6} " + " ".join(f"{c:>24}" for c in cells))


#: What :func:`per_sum` times: the whole step, the circuit alone and the loss alone.
PARTS = {"every": every_sum, "circuit": circuit_alone, "loss": loss_alone}


def network_vs_logic(model: TaskModel, images: torch.Tensor, targets: torch.Tensor):
    """ms per batch (forward, backward, AdamW step) of LeNet alone, of LeNet + circuit as
    training runs it, and of LeNet + circuit scoring every sum; then the latter two's ratios to
    the first (medians over rounds of each round's ratio)."""
    optimiser = torch.optim.AdamW(model.parameters(), 1e-3)
    digit_targets = torch.zeros(images.shape[:2], dtype=torch.int64).flatten()

    def network():
        _, logits = model.net(images.flatten(0, 1))
        loss = torch.nn.functional.cross_entropy(logits, digit_targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    def with_logic(scored: torch.Tensor | None):
        def step():
            loss = model.loss(model(images, targets=scored), targets)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()

        return step

    # interleave them so that the machine's load affects all alike; the ratios are the medians
    # of each round's (its three steps measured back to back: a slow spell between rounds moves
    # the times, not the ratios)
    steps = (network, with_logic(targets), with_logic(None))
    times = np.array([[timed(step, 20) for step in steps] for _ in range(9)])
    ratios = np.median(times[:, 1:] / times[:, :1], 0)
    return (*(float(t) for t in np.median(times, 0)), *(float(r) for r in ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("NESY_DATA"))
    parser.add_argument("--digits", type=int, default=1)
    parser.add_argument("--compiler", choices=COMPILERS, default="auto")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-sizes", default="1,32,256,1024")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--per-sum",
        metavar="N,N",
        help="only time every sum's forward + backward per sum for these N, side by side",
    )
    args = parser.parse_args()
    reuse_freed_memory()  # as `nesy train` runs
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.per_sum:
        batches = list(map(int, args.batch_sizes.split(",")))
        per_sum(list(map(int, args.per_sum.split(","))), batches)
        return

    began = time.perf_counter()
    task = mnist_addition(args.digits, compiler=args.compiler)
    model = TaskModel(task)
    compile_s = time.perf_counter() - began
    stats = model.compiled.circuit.stats()
    print(
        f"MNIST addition N={args.digits} ({model.compiled.stats.get('compiler', 'grounding')}):"
        f" compile {compile_s:.2f} s, circuit {stats}"
    )

    cone = lower_cone(model.compiled.circuit, model.compiled.labelling, model.circuit.keys)
    print(
        "\nlogic only, forward + backward (ms), every sum / the observed sum alone (training"
        f" scores the observed sums alone: {model.cone is not None}):"
    )
    print(f"{'batch':>6} {'every':>9} {'observed':>9} {'ratio':>6} {'us/example':>11}")
    for b in map(int, args.batch_sizes.split(",")):
        every, observed = logic_only(model, cone, b, args.digits)
        print(
            f"{b:>6} {every:>9.3f} {observed:>9.3f} {every / observed:>6.1f}"
            f" {1e3 * min(every, observed) / b:>11.2f}"
        )

    train_images, test_images = load_mnist(args.data_dir), load_mnist(args.data_dir, "test")
    train = Split.of(task, model.groups, addition_dataset(train_images, args.digits, 0))
    test = Split.of(task, model.groups, addition_dataset(test_images, args.digits, 0))
    images, targets = train.batch(np.arange(32))
    net_ms, trained_ms, every_ms, trained_x, every_x = network_vs_logic(model, images, targets)
    print(
        f"\nper batch of 32 (forward, backward, AdamW): LeNet alone {net_ms:.2f} ms, LeNet +"
        f" logic as trained {trained_ms:.2f} ms (ratio {trained_x:.2f}x), scoring every"
        f" sum {every_ms:.2f} ms ({every_x:.2f}x)"
    )
    if args.epochs < 1:  # timings only
        return

    torch.manual_seed(0)
    model = TaskModel(task)
    config = TrainConfig(epochs=args.epochs, batch_size=32, patience=99, progress=False)
    history = fit(model, train, test, config)
    accuracy = evaluate(model, test)["accuracy"]
    per_epoch = np.mean([e["seconds"] for e in history.epochs])
    print(
        f"\ntraining ({train_images.source}): {len(train)} pairs per epoch, {per_epoch:.1f} s per"
        f" epoch, test accuracy {accuracy:.4f} after {len(history.epochs)} epoch(s)"
    )


if __name__ == "__main__":
    main()
