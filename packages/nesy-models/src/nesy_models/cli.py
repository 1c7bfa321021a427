"""``nesy train mnist-addition|sudoku`` (registered through ``nesy.commands``).

``--nproc K`` re-launches the same command under torchrun with K processes (DDP: gloo on CPU,
NCCL on GPU); each process trains on its share of every global batch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields

from .experiment import BACKENDS, RunConfig, run, write_json
from .tasks import FUZZY, LOGIC, SEMANTICS


def _add_run_options(p: argparse.ArgumentParser, task: str) -> None:
    if task == "mnist-addition":
        p.add_argument("--digits", type=int, default=1, help="digits per number (N)")
        p.add_argument("--encoding", choices=("standard", "carry"), default="standard")
    p.add_argument("--semantics", choices=SEMANTICS, default="prob")
    p.add_argument("--tnorm", choices=FUZZY, default="product", help="t-norm of prob-fuzzy")
    p.add_argument("--logic", choices=LOGIC, default="architecture")
    p.add_argument("--backend", choices=BACKENDS, default="torch")
    p.add_argument("--data-dir", help="MNIST IDX files (default: $NESY_DATA/mnist or embedded)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=5, help="early stopping on validation loss")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-size", type=int, help="use only this many training examples")
    p.add_argument("--checkpoint", help="save after every epoch here; resume when it exists")
    p.add_argument("--json", help="write the metrics here")
    p.add_argument("--nproc", type=int, default=1, help="data-parallel processes (torchrun)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(run=_train, task=task)


def _train(args: argparse.Namespace) -> int:
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _launch(args.nproc)
    _init_distributed()
    names = {f.name for f in fields(RunConfig)}
    config = RunConfig(**{k: v for k, v in vars(args).items() if k in names})
    metrics = run(config)
    if int(os.environ.get("RANK", "0")) == 0:
        summary = {k: metrics[k] for k in ("test_accuracy", "seconds_per_epoch", "epochs")}
        print(json.dumps(summary))
        if args.json:
            write_json(metrics, args.json)
    return 0


def _launch(nproc: int) -> int:
    """Run this very command again under torchrun with ``nproc`` processes."""
    from torch.distributed.run import main as torchrun

    argv = sys.argv[1:]
    where = argv.index("--nproc")
    argv = argv[:where] + argv[where + 2 :]
    torchrun(["--standalone", f"--nproc-per-node={nproc}", "-m", "nesy_ir.cli", *argv])
    return 0


def _init_distributed() -> None:
    import torch

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train a model on a task (source 003 section 7)")
    tasks = train.add_subparsers(dest="task_name", metavar="TASK", required=True)
    for task, text in (
        ("mnist-addition", "MNIST addition of two N-digit numbers"),
        ("sudoku", "4x4 visual Sudoku validity"),
    ):
        _add_run_options(tasks.add_parser(task, help=text), task)
