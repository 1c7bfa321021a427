"""Head-to-head with DeepProbLog 2.1.0: MNIST addition, N = 1, 2, 3 (standard encoding).

    .venv/bin/python benchmarks/vs_deepproblog.py --data-dir ../shared/data [--batch 2]
        [--digits 1,2,3] [--iterations 20] [--max-seconds 60] [--big-batch 256] [--threads 2]

(about 10 minutes for N = 1, 2, 3 with the defaults; on a busy machine ``--threads 1`` keeps
torch's threads from spinning against other processes; DeepProbLog's own work is single-threaded
Python either way.)

Both systems get the same LeNet (``nesy_models.models.LeNet``; DeepProbLog's neural predicate
sees the softmax of its logits), the same addition examples, the same batch and AdamW, in one
process on this machine. Per N it prints:

- inference ms per query: DeepProbLog answers one query with the sum left open (as its
  ``get_confusion_matrix`` does); nesy predicts a batch (``--batch``, and ``--big-batch``) and
  the time is divided by the batch;
- training ms per iteration: forward, backward and optimiser step of one batch of ``--batch``
  examples (DeepProbLog: ``TrainObject.get_loss``, one circuit per query, cross-entropy);
- DeepProbLog's first-use cost ("compiled" row): it grounds and compiles an SDD per distinct
  query (per sum when training, one open-sum query for inference) and caches it (``cache=True``
  as in its examples); shown as the first inference query's ms and the mean ms per iteration of
  the first pass over the training batches.

Times are medians after warm-up; the steady-state DeepProbLog times reuse the circuits compiled
in its first pass. Every DeepProbLog measurement stops after ``--max-seconds`` (a step running
past it is interrupted); then the table says how many queries or iterations were measured, and
'>' marks a first pass that did not finish a single one.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import time
import warnings

import numpy as np
import torch
from deepproblog.engines import ExactEngine
from deepproblog.model import Model
from deepproblog.network import Network
from deepproblog.query import Query
from deepproblog.train import TrainObject
from problog.logic import Constant, Term, list2term

from mnist_addition import timed  # benchmarks/ is on sys.path when this script runs
from nesy_models.data import AdditionSet, addition_dataset, load_mnist
from nesy_models.learners import Split
from nesy_models.models import LeNet, TaskModel
from nesy_models.tasks import mnist_addition

# DeepProbLog's own MNIST addition program (examples/MNIST/models/addition.pl)
PROGRAM = """
nn(mnist_net,[X],Y,[0,1,2,3,4,5,6,7,8,9]) :: digit(X,Y).
number([],Result,Result).
number([H|T],Acc,Result) :- digit(H,Nr), Acc2 is Nr+10*Acc, number(T,Acc2,Result).
number(X,Y) :- number(X,0,Y).
multi_addition(X,Y,Z) :- number(X,X2), number(Y,Y2), Z is X2+Y2.
addition(X,Y,Z) :- digit(X,X2), digit(Y,Y2), Z is X2+Y2.
"""


class Softmaxed(torch.nn.Module):
    """LeNet's digit distribution, as a DeepProbLog neural predicate expects."""

    def __init__(self, net: LeNet):
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)[1].softmax(-1)


class ImagePool:
    """DeepProbLog tensor source: ``tensor(train(I))`` -> image I of the pool, (1, 28, 28)."""

    def __init__(self, images: np.ndarray):
        self.images = torch.from_numpy(np.array(images))

    def __getitem__(self, args: tuple) -> torch.Tensor:
        return self.images[int(args[0])][None]


def dpl_queries(data: AdditionSet) -> list[Query]:
    """One query per example, images as ``tensor(train(I))`` substituted for placeholders."""
    n, queries = data.n_digits, []
    for rows, total in zip(data.index, data.sums, strict=True):
        slots = [Term(f"p{i}") for i in range(2 * n)]
        subs = {
            s: Term("tensor", Term("train", Constant(int(r))))
            for s, r in zip(slots, rows, strict=True)
        }
        if n == 1:
            query = Term("addition", slots[0], slots[1], Constant(int(total)))
        else:
            query = Term(
                "multi_addition", list2term(slots[:n]), list2term(slots[n:]), Constant(int(total))
            )
        queries.append(Query(query, subs))
    return queries


def dpl_model(data: AdditionSet, lr: float) -> Model:
    net = LeNet()
    network = Network(Softmaxed(net), "mnist_net", batching=True)
    network.optimizer = torch.optim.AdamW(net.parameters(), lr)
    model = Model(PROGRAM, [network], load=False)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Caching ACs"
        model.set_engine(ExactEngine(model), cache=True)
    model.add_tensor_source("train", ImagePool(data.images))
    return model


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout


def capped(step, items: list, max_seconds: float) -> list[float]:
    """Seconds of ``step(item)`` for each item in turn, stopping after ``max_seconds`` in all."""
    times: list[float] = []
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, max_seconds)
    try:
        for item in items:
            began = time.perf_counter()
            step(item)
            times.append(time.perf_counter() - began)
    except Timeout:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return times


def measure_dpl(data: AdditionSet, args) -> dict:
    """First-pass and steady-state ms per query (inference) and per iteration (training)."""
    model = dpl_model(data, args.lr)
    queries = dpl_queries(data)
    open_sums = [q.variable_output() for q in queries[: args.iterations]]
    model.eval()
    infer = lambda q: model.solve([q])  # noqa: E731
    first = capped(infer, open_sums, args.max_seconds)
    steady = capped(infer, open_sums[: len(first)] * 3, args.max_seconds) if first else []

    trainer = TrainObject(model)
    loss = model.solver.semiring.cross_entropy
    batches = [
        queries[i : i + args.batch] for i in range(0, args.iterations * args.batch, args.batch)
    ]

    def train_step(batch):
        model.train()
        model.optimizer.zero_grad()
        trainer.get_loss(batch, loss)
        model.optimizer.step()

    first_train = capped(train_step, batches, args.max_seconds)
    steady_train = (
        capped(train_step, batches[: len(first_train)] * 3, args.max_seconds) if first_train else []
    )
    return {
        "infer": steady,
        "infer_first": first,
        "train": steady_train,
        "train_first": first_train,
    }


def measure_nesy(model: TaskModel, split: Split, batch: int, lr: float) -> dict:
    """ms per query (inference) and per iteration (training) at ``batch``."""
    images, targets = split.batch(np.arange(batch))
    optimiser = torch.optim.AdamW(model.parameters(), lr)

    @torch.no_grad()
    def infer():
        model.eval()
        model.predict(model(images))

    def train_step():
        model.train()
        loss = model.loss(model(images), targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    return {"infer": timed(infer, 20) / batch, "train": timed(train_step, 20)}


def ms(times: list[float], total: int, average=np.median) -> str:
    """Median (or ``average``) ms, with the count measured when the cap stopped it early."""
    if not times:
        return "> cap"
    text = f"{1e3 * float(average(times)):.2f}"
    return text if len(times) >= total else f"{text} ({len(times)})"


def ratio(times: list[float], ours_ms: float) -> str:
    return f"{1e3 * float(np.median(times)) / ours_ms:.0f}x" if times else "n/a"


def compare(n: int, images, args) -> None:
    """Measure both systems on N-digit addition and print their rows."""
    data = addition_dataset(images, n, 0)
    began = time.perf_counter()
    task = mnist_addition(n)
    model = TaskModel(task)
    built_s = time.perf_counter() - began
    split = Split.of(task, model.groups, data)
    ours = measure_nesy(model, split, args.batch, args.lr)
    big = measure_nesy(model, split, args.big_batch, args.lr)
    dpl = measure_dpl(data, args)
    steady = {key: 3 * len(dpl[f"{key}_first"]) for key in ("infer", "train")}
    rows = [
        ("nesy", f"built {built_s:.2f} s", f"{ours['infer']:.3f}", f"{ours['train']:.2f}"),
        (f"nesy, batch {args.big_batch}", "", f"{big['infer']:.4f}", f"{big['train']:.2f}"),
        (
            "DeepProbLog 2.1.0",
            "cached",
            ms(dpl["infer"], steady["infer"]),
            ms(dpl["train"], steady["train"]),
        ),
        (
            "  first use",
            "compiled",
            ms(dpl["infer_first"][:1], 1),
            ms(dpl["train_first"], args.iterations, np.mean),
        ),
        (
            "ratio DPL / nesy",
            "",
            ratio(dpl["infer"], ours["infer"]),
            ratio(dpl["train"], ours["train"]),
        ),
        (f"ratio DPL / nesy {args.big_batch}", "", ratio(dpl["infer"], big["infer"]), ""),
    ]
    for name, built, infer, train in rows:
        print(f"{n:>2} {name:<22} {built:>12} {infer:>15} {train:>14}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("NESY_DATA"))
    parser.add_argument("--digits", default="1,2,3")
    parser.add_argument("--batch", type=int, default=2, help="examples per batch, both systems")
    parser.add_argument("--big-batch", type=int, default=256, help="nesy's efficient batch")
    parser.add_argument("--iterations", type=int, default=20, help="DeepProbLog queries/batches")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="cap per DPL measurement")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)  # DeepProbLog's, on every query
    torch.manual_seed(0)
    images = load_mnist(args.data_dir)
    print(
        f"MNIST addition, {images.source} images, batch {args.batch}, {args.threads} threads;"
        f" DeepProbLog capped at {args.max_seconds:.0f} s per measurement of"
        f" {args.iterations} queries / iterations ((k) = only k measured)\n"
    )
    print(f"{'N':>2} {'system':<22} {'circuits':>12} {'infer ms/query':>15} {'train ms/iter':>14}")
    for n in map(int, args.digits.split(",")):
        compare(n, images, args)


if __name__ == "__main__":
    main()
