"""The command-line options of ``nesy train shortest-path`` and ``nesy demo shortest-path``
(registering them imports no torch)."""

from __future__ import annotations

import argparse

from ..options import EM_VARIANTS, JSON_FILE_HELP, PATH_LEARNERS, PROGRESS_HELP

DESCRIPTION = (
    "Shortest paths on generated terrain maps (the Warcraft benchmark, as in the EM-NeSy"
    " paper): a CNN labels each cell's terrain class from the map image, learning from optimal"
    " paths alone, by EM (an E-step by a sampling engine) or by blackbox differentiation of the"
    " solver."
)


def add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=12, help="cells per map side, N (12 or 30)")
    p.add_argument(
        "--maps",
        type=int,
        nargs=3,
        metavar=("TRAIN", "VAL", "TEST"),
        help="maps per split (default: 10000 1000 1000)",
    )
    p.add_argument("--data-seed", type=int, default=0, help="seed of the generated maps")
    p.add_argument(
        "--cache",
        metavar="FILE.npz",
        help="keep the generated maps in this file; read them from it when it exists",
    )
    p.add_argument(
        "--learner",
        choices=PATH_LEARNERS,
        default="em",
        help="EM (E-step by --engine, M-step through the network only: EM-NeSy), or"
        " blackbox differentiation of the solver (Vlastelica et al.)",
    )
    p.add_argument(
        "--engine",
        default="abc-nearest",
        help="EM's inference engine: abc-nearest (the draws under which the label path is"
        " nearest to shortest), abc (those under which it is a shortest path), or a registered"
        " one",
    )
    p.add_argument(
        "--em",
        choices=EM_VARIANTS,
        default="soft",
        help="what EM's M-step fits: posterior marginals, the MPE, or one sample",
    )
    p.add_argument("--samples", type=int, default=100, help="draws per map of a sampling engine")
    p.add_argument("--m-steps", type=int, default=1, help="EM's M-step updates per E-step")
    p.add_argument(
        "--balance",
        type=float,
        default=0.0,
        help="weight of EM's class-balance term: the M-step also raises the entropy of the"
        " batch's mean class distribution, so that no terrain class falls out of use",
    )
    p.add_argument(
        "--cluster-init",
        type=int,
        default=0,
        metavar="EPOCHS",
        help="first fit the network for EPOCHS to k-means clusters of the cells' tiles, named"
        " by the terrain classes under which most label paths are shortest (no class or cost"
        " labels; 0: off)",
    )
    p.add_argument(
        "--lam",
        type=float,
        default=20.0,
        help="blackbox differentiation's interpolation strength lambda",
    )
    p.add_argument("--epochs", type=int, default=10, help="training epochs")
    p.add_argument("--batch-size", type=int, default=32, help="maps per batch")
    p.add_argument("--lr", type=float, default=3e-3, help="learning rate (AdamW)")
    p.add_argument(
        "--patience",
        type=int,
        default=5,
        help="epochs without a better validation cost match before stopping",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument(
        "--plot",
        metavar="PNG",
        help="also draw a test map (the first whose path winds) with its paths here",
    )
    p.add_argument("--json-file", dest="json", metavar="PATH", help=JSON_FILE_HELP)
    p.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=True, help=PROGRESS_HELP
    )
    p.set_defaults(run=_command("train"))


def register_demo(demos: argparse._SubParsersAction) -> None:
    demo = demos.add_parser(
        "shortest-path",
        help="shortest paths on generated terrain maps, learned by ABC-EM from paths alone",
        description=DESCRIPTION + " A short run on small map sets; saves a PNG of a test map"
        " with its true and predicted paths.",
    )
    demo.add_argument("--maps", type=int, default=2000, help="training maps")
    demo.add_argument("--epochs", type=int, default=3, help="training epochs")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    demo.add_argument("--plot", default="out/shortest_path.png", help="the PNG of a test map")
    demo.set_defaults(run=_command("demo"))


def _command(name: str):
    def run_command(args: argparse.Namespace) -> int:
        from . import commands

        return getattr(commands, name)(args)

    return run_command
