"""``nesy train mnist-addition|sudoku|visudo|shortest-path|visatnet|neurorule|neurorule-scenes``,
``nesy evaluate visatnet``, ``nesy explain visatnet|neurorule|neurorule-scenes`` and ``nesy
rules`` (registered
through ``nesy.commands``).

``--nproc K`` re-launches the same command under torchrun with K processes (DDP: gloo on CPU,
NCCL on GPU); each process trains on its share of every global batch.

Registering imports no torch: the commands import the training code when they run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields

from .options import (
    BACKENDS,
    CHECKPOINT_HELP,
    COMPILERS,
    DATA_DIR_HELP,
    EM_VARIANTS,
    FUZZY,
    JSON_FILE_HELP,
    LEARNERS,
    LOGIC,
    PROGRESS_HELP,
    SCHEDULES,
    SEMANTICS,
)


def _add_run_options(p: argparse.ArgumentParser, task: str) -> None:
    if task == "mnist-addition":
        p.add_argument("--digits", type=int, default=1, help="digits per number (N)")
        p.add_argument(
            "--encoding",
            choices=("standard", "carry"),
            default="standard",
            help="the program: numbers built from digits, or school addition with carries",
        )
        p.add_argument(
            "--compiler",
            choices=COMPILERS,
            default="auto",
            help="how the standard encoding's sums are compiled: the linear-sum compiler (the"
            " same values, the work shared across sums; prob and godel semantics), grounding the"
            " program (up to 3 digits), or auto: the linear-sum compiler where it applies",
        )
    if task == "visudo":
        p.add_argument("--dim", dest="dimension", type=int, default=4, help="board size: 4 or 9")
        p.add_argument("--split", type=int, default=0, help="which of ViSudo-PC's splits (0-9)")
        p.add_argument("--puzzles", type=int, default=100, help="valid puzzles per split")
    p.add_argument(
        "--semantics", choices=SEMANTICS, default="prob", help="probabilistic, fuzzy or both"
    )
    p.add_argument("--tnorm", choices=FUZZY, default="product", help="t-norm of prob-fuzzy")
    p.add_argument(
        "--logic",
        choices=LOGIC,
        default="architecture",
        help="where the logic sits: in the architecture, in the loss, or none (neural baseline)",
    )
    p.add_argument("--backend", choices=BACKENDS, default="torch", help="what trains the model")
    p.add_argument(
        "--learner",
        choices=LEARNERS,
        default="backprop",
        help="backpropagation through the logic, or EM (E-step by an engine, M-step through the"
        " network only: EM-NeSy)",
    )
    p.add_argument(
        "--engine",
        default="exact",
        help="inference engine: exact (the circuit), bp (belief propagation), abc (rejection"
        " sampling), abc-nearest (keeping the draws nearest the answer), or one registered"
        " through the nesy.engines entry points; backprop runs through exact or bp",
    )
    p.add_argument(
        "--em",
        choices=EM_VARIANTS,
        default="soft",
        help="what EM's M-step fits: posterior marginals, the MPE, or one posterior sample",
    )
    p.add_argument(
        "--samples", type=int, default=1000, help="draws of a sampling engine (abc, abc-nearest)"
    )
    p.add_argument("--m-steps", type=int, default=1, help="EM's M-step updates per E-step")
    p.add_argument(
        "--cluster-init",
        type=int,
        default=0,
        metavar="EPOCHS",
        help="first fit the digit network for EPOCHS to k-means clusters of the training images"
        " (no labels): a start that breaks the symmetry of tasks blind to the digits' names,"
        " such as 9x9 visual Sudoku (0: off)",
    )
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.add_argument("--epochs", type=int, default=1, help="training epochs")
    p.add_argument("--batch-size", type=int, default=32, help="examples per batch")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (AdamW)")
    p.add_argument(
        "--weight-decay",
        type=float,
        default=1e-2,
        help="AdamW's weight decay (0: plain Adam)",
    )
    p.add_argument(
        "--centre-images",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="scale the images from [0, 1] to [-1, 1] before the network, as DeepProbLog and"
        " DeepLog do (default; --no-centre-images feeds them in [0, 1])",
    )
    p.add_argument("--schedule", choices=SCHEDULES, default="constant", help="learning rate")
    p.add_argument("--augment", type=int, default=0, help="random image shifts (pixels)")
    p.add_argument("--patience", type=int, default=5, help="early stopping on validation loss")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--train-size", type=int, help="use only this many training examples")
    p.add_argument("--checkpoint", help=CHECKPOINT_HELP)
    p.add_argument("--json-file", dest="json", metavar="PATH", help=JSON_FILE_HELP)
    p.add_argument("--nproc", type=int, default=1, help="data-parallel processes (torchrun)")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=PROGRESS_HELP,
    )
    p.set_defaults(run=_train, task=task)


def _train(args: argparse.Namespace) -> int:
    from .checks import at_least, writable
    from .experiment import RunConfig, run, write_json

    names = {f.name for f in fields(RunConfig)}
    config = RunConfig(**{k: v for k, v in vars(args).items() if k in names})  # checks them
    at_least("nproc", args.nproc, 1)
    for path in (args.checkpoint, args.json):
        if path:
            writable(path)  # now, not after the whole run
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _launch(args.nproc)
    _init_distributed()
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


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def _add_visatnet_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.add_argument("--mask-ratio", type=float, default=0.4, help="training mask ratio")
    p.add_argument("--json-file", dest="json", metavar="PATH", help=JSON_FILE_HELP)
    p.add_argument("--epochs", type=int, default=5, help="Vi-SATNet epochs")
    p.add_argument("--lenet-epochs", type=int, default=2, help="epochs of the LeNet features")
    p.add_argument(
        "--lenet-train-size", type=int, default=60000, help="training images of the LeNet"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (the first, with --seeds)")
    p.add_argument("--seeds", type=int, default=1, help="number of seeds (median table)")
    p.add_argument("--per-class", type=int, default=500, help="training images per class")
    p.add_argument("--val-per-class", type=int, default=100, help="validation images per class")
    p.add_argument("--test-size", type=int, default=1000, help="test images classified")
    p.add_argument("--m", type=int, default=320, help="clauses per Vi-SATNet")
    p.add_argument("--max-iter", type=int, default=40, help="mixing-method sweeps")
    p.add_argument("--batch-size", type=int, default=8, help="examples per batch")
    p.add_argument("--lr", type=float, default=2e-3, help="learning rate")
    p.add_argument("--rule-threshold", type=float, default=0.9, help="literal cut-off of rules")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--out", default="out/visatnet", help="model.pt and losses.png go here")
    p.set_defaults(run=_visatnet("train"))


def _add_visatnet_explain_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="out/visatnet/model.pt", help="from nesy train visatnet")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.add_argument("--image", type=int, required=True, help="index of a test image")
    p.add_argument("--target", type=int, required=True, help="target feature position 0..24")
    p.add_argument("--alpha", type=float, default=0.9, help="confidence of the set")
    p.add_argument("--sweep", type=_floats, help="also draw these alphas (comma separated)")
    p.add_argument("--out", required=True, help="PNG of the set's receptive fields")
    p.set_defaults(run=_visatnet("explain"))


def _add_visatnet_evaluate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="out/visatnet/model.pt", help="from nesy train visatnet")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.add_argument(
        "--seed", type=int, default=0, help="random seed of the masks (the training run's)"
    )
    p.add_argument("--test-size", type=int, default=1000, help="first test images classified")
    p.add_argument("--ratios", type=_floats, default=None, help="mask ratios (comma separated)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument(
        "--json-file", dest="json", metavar="PATH", help="also write the table as JSON to this file"
    )
    p.set_defaults(run=_visatnet("evaluate"))


#: ``nesy train neurorule`` option -> (NeuroRuleConfig field, type, help); an option not given
#: keeps the config's default
NEURORULE_OPTIONS = {
    "--max-length": ("length", int, "atoms per rule body, L (at most 4)"),
    "--mixed-lengths": ("mixed", bool, "templates of every body length 1..L in turn, not all L"),
    "--templates": ("rules", int, "rule templates per head relation, T"),
    "--hops": ("hops", int, "forward-chaining hops (derived relations feed the next)"),
    "--tau": ("tau", float, "temperature of the smooth maximum over intermediate entities"),
    "--loss": ("loss", str, "softmax (cross-entropy over the candidates) or bce"),
    "--lam": ("lam", float, "weight lambda of the rule regulariser Omega"),
    "--epochs": ("epochs", int, "epochs at most (early stopping on validation MRR)"),
    "--batch-size": ("batch_size", int, "training triples (queries) per step"),
    "--lr": ("lr", float, "AdamW learning rate"),
    "--patience": ("patience", int, "epochs without a better validation MRR before stopping"),
    "--top-rules": ("top_rules", int, "rules per head printed"),
    "--embedding": (
        "embedding",
        int,
        "complex dimensions of a ComplEx embedding added to the rules' scores (0: none)",
    ),
    "--embedding-reg": ("embedding_reg", float, "weight of the embedding's N3 penalty"),
    "--embedding-lr": ("embedding_lr", float, "AdamW learning rate of the embedding"),
}


def _add_table_options(p: argparse.ArgumentParser, table: dict) -> None:
    """One option per entry of ``table`` (flag -> (config field, type, help)); a bool is a
    ``--flag / --no-flag`` pair. None where not given: the config's default stands."""
    for flag, (_, kind, text) in table.items():
        if kind is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, help=text)
        else:
            p.add_argument(flag, type=kind, help=text)


def _add_neurorule_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataset",
        default="family",
        help="family (an embedded generated family tree), kinship, umls, nations,"
        " kinship-rnnlogic, umls-rnnlogic (under --data-dir or $NESY_DATA/kg), or a folder of"
        " train.txt, valid.txt, test.txt (head<TAB>relation<TAB>tail)",
    )
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.add_argument("--seed", type=int, default=0, help="random seed")
    _add_table_options(p, NEURORULE_OPTIONS)
    p.add_argument("--checkpoint", help=CHECKPOINT_HELP + " (for nesy rules, explain)")
    p.add_argument("--json-file", metavar="PATH", help=JSON_FILE_HELP)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=True, help=PROGRESS_HELP
    )
    p.set_defaults(run=_neurorule("train"))


def _add_neurorule_explain_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="from nesy train neurorule --checkpoint")
    p.add_argument(
        "--query", required=True, help="relation(head, tail), '?' for the head or the tail"
    )
    p.add_argument("--top", type=int, default=3, help="answers explained, for a '?' query")
    p.add_argument("--chains", type=int, default=3, help="reasoning chains per answer")
    p.set_defaults(run=_neurorule("explain"))


def _add_rules_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="from nesy train neurorule --checkpoint")
    p.add_argument("--top", type=int, default=3, help="rules per head relation")
    p.add_argument("--program", metavar="OUT.pl", help="also write them as a ProbLog program")
    p.add_argument(
        "--weights",
        choices=("alpha", "confidence"),
        default="alpha",
        help="the rules' probabilities in the program: their weights clipped into (0, 1), or"
        " their confidence on the training facts",
    )
    p.set_defaults(run=_neurorule("rules"))


SCENES_DESCRIPTION = (
    "NeuroRule from pixels on generated scene graphs: a CNN's per-object features pooled from"
    " each box, a neuro-symbolic bridge giving each primitive relation's truth, and rules of up"
    " to 4 atoms, learned end to end, deriving the composed relations (travel_on, same_frame,"
    " travel_in, carries) that hidden Horn rules planted. Reports PredCls recall (R@K, mR@K,"
    " with and without the graph constraint), recall of the composed relations on a zero-shot"
    " split of unseen category pairs, and the planted rules recovered."
)

#: option -> (SceneConfig field, type, help); an option not given keeps the variant's value
SCENE_OPTIONS = {
    "--model": ("model", str, "rules (bridge + rule engine) or neural (the bridge only)"),
    "--max-length": ("length", int, "atoms per rule body, L (at most 4)"),
    "--mixed-lengths": ("mixed", bool, "templates of every body length 1..L in turn, not all L"),
    "--templates": ("rules", int, "rule templates per composed relation, T"),
    "--hops": ("hops", int, "forward-chaining hops (derived relations feed the next)"),
    "--tau": ("tau", float, "temperature of the smooth maximum over intermediate objects"),
    "--unary": ("unary", bool, "the category predicates join the rule bodies"),
    "--fuse": ("fuse", bool, "composed scores: the bridge's plus the rules' (else the rules')"),
    "--lam": ("lam", float, "weight lambda of the rule regulariser Omega"),
    "--warmup": (
        "warmup",
        int,
        "epochs over which Omega's weight rises to lambda; the best epoch is chosen after them",
    ),
    "--epochs": ("epochs", int, "epochs at most (early stopping on validation mR@50)"),
    "--batch-size": ("batch_size", int, "scenes per step"),
    "--lr": ("lr", float, "AdamW learning rate of perception and bridge"),
    "--rule-lr": ("rule_lr", float, "AdamW learning rate of the rules"),
    "--patience": ("patience", int, "epochs without a better validation mR@50 before stopping"),
    "--top-rules": ("top_rules", int, "rules per composed relation printed"),
    "--data-seed": ("data_seed", int, "seed of the generated scenes"),
    "--canvas": ("canvas", int, "image side in pixels (at least 48)"),
    "--noise": ("noise", float, "share of composed training triples left unlabelled"),
    "--categories-given": (
        "categories_given",
        bool,
        "PredCls: embed the given categories in the entity features (else read from pixels)",
    ),
}


def _add_scenes_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--variant",
        choices=("A", "B", "C", "D"),
        default="D",
        help="NeuroRule's ablation: A neural only, B rules without chaining (L = 1), C without"
        " Omega, D the full model (L = 4)",
    )
    p.add_argument(
        "--scenes",
        type=int,
        nargs=4,
        metavar=("TRAIN", "VAL", "TEST", "ZERO"),
        help="scenes per split: train, validation, test, zero-shot (default 600 200 200 200)",
    )
    _add_table_options(p, SCENE_OPTIONS)
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--checkpoint", help="save the trained model here (for nesy explain)")
    p.add_argument("--plot", metavar="PNG", help="draw a test scene's best composed prediction")
    p.add_argument("--json-file", metavar="PATH", help=JSON_FILE_HELP)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=True, help=PROGRESS_HELP
    )
    p.set_defaults(run=_scenes("train"))


def _add_scenes_explain_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint", required=True, help="from nesy train neurorule-scenes --checkpoint"
    )
    p.add_argument(
        "--split",
        choices=("train", "valid", "test", "zero_shot"),
        default="test",
        help="the split of the scene (regenerated from the checkpoint's data options)",
    )
    p.add_argument("--scene", type=int, default=0, help="the scene's index in its split")
    p.add_argument(
        "--threshold", type=float, default=0.5, help="the least probability of a relation shown"
    )
    p.add_argument("--chains", type=int, default=2, help="reasoning chains per composed relation")
    p.add_argument("--plot", metavar="PNG", help="draw the best composed prediction's chain here")
    p.set_defaults(run=_scenes("explain"))


def _scenes(command: str):
    def run_command(args: argparse.Namespace) -> int:
        from .neurorule.scenes import commands

        return getattr(commands, command)(args)

    return run_command


def _neurorule(command: str):
    def run_command(args: argparse.Namespace) -> int:
        from .neurorule import commands

        return getattr(commands, command)(args)

    return run_command


def _visatnet(command: str):
    def run_command(args: argparse.Namespace) -> int:
        from .visatnet import commands

        return getattr(commands, command)(args)

    return run_command


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser(
        "train",
        help="train a model on a task (the DeepLog experiments, Vi-SATNet, NeuroRule)",
        description="Train a model: the DeepLog paper's experiments (MNIST addition, visual"
        " Sudoku) under every semantics and logic placement, Vi-SATNet, or NeuroRule.",
    )
    tasks = train.add_subparsers(dest="task_name", metavar="TASK", required=True, title="tasks")
    for task, text in (
        ("mnist-addition", "MNIST addition of two N-digit numbers"),
        ("sudoku", "4x4 visual Sudoku validity"),
        ("visudo", "visual Sudoku puzzle classification, 4x4 or 9x9 (ViSudo-PC)"),
    ):
        _add_run_options(tasks.add_parser(task, help=text, description=text + "."), task)
    from .shortest_path.cli import DESCRIPTION, add_train_options

    add_train_options(
        tasks.add_parser(
            "shortest-path",
            help="shortest paths on generated terrain maps (Warcraft), from paths alone",
            description=DESCRIPTION,
        )
    )
    _add_visatnet_train_options(
        tasks.add_parser(
            "visatnet",
            help="Vi-SATNet: learning rules by re-generating deep features of MNIST",
            description='Vi-SATNet ("Learning reliable rules by re-generating deep features"):'
            " one SATNet layer per digit class re-generates masked LeNet features of MNIST.",
        )
    )
    _add_neurorule_train_options(
        tasks.add_parser(
            "neurorule",
            help="NeuroRule: differentiable rule induction for knowledge-graph completion",
            description="NeuroRule: rules of up to 4 atoms learned by gradient descent (a softmax"
            " over the relations per body slot, a smooth maximum over intermediate entities),"
            " scored by filtered ranking (MRR, Hits@1/3/10) on a knowledge graph.",
        )
    )
    _add_scenes_train_options(
        tasks.add_parser(
            "neurorule-scenes",
            help="NeuroRule from pixels: scene graphs with rule-composed relations (generated)",
            description=SCENES_DESCRIPTION,
        )
    )
    explain = sub.add_parser("explain", help="explain a trained model")
    models = explain.add_subparsers(dest="model_name", metavar="MODEL", required=True)
    _add_visatnet_explain_options(
        models.add_parser("visatnet", help="minimal significant feature set of one image")
    )
    _add_neurorule_explain_options(
        models.add_parser("neurorule", help="the reasoning chains behind a predicted triple")
    )
    _add_scenes_explain_options(
        models.add_parser(
            "neurorule-scenes",
            help="every relation predicted in a scene, composed ones with their chains",
        )
    )
    _add_rules_options(
        sub.add_parser(
            "rules",
            help="a trained NeuroRule model's rules, readable or as a ProbLog program",
            description="Print each head relation's top learned rules (argmax per body slot,"
            " weights kept); --program writes them with the training facts as a program that"
            " nesy query runs.",
        )
    )
    evaluate = sub.add_parser("evaluate", help="evaluate a trained model")
    models = evaluate.add_subparsers(dest="model_name", metavar="MODEL", required=True)
    _add_visatnet_evaluate_options(
        models.add_parser("visatnet", help="accuracy by mask ratio of a saved Vi-SATNet model")
    )
