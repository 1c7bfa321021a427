"""What ``nesy train neurorule``, ``nesy explain neurorule`` and ``nesy rules`` run (their parsers
are in :mod:`nesy_models.cli`)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch

from ..checks import OptionError, at_least, writable
from ..data.kg import load_kg
from ..experiment import write_json
from .checkpoint import load_checkpoint
from .config import NeuroRuleConfig
from .explain import explain as explain_triple
from .explain import export_program, learned_rules
from .model import adjacency
from .train import train_neurorule

#: ``relation(head, tail)``, either argument ``?``
QUERY = re.compile(r"^\s*([^(),\s]+)\s*\(\s*([^(),]+?)\s*,\s*([^(),]+?)\s*\)\s*\.?\s*$")
#: the numbers of the training summary, in print order
SUMMARY = ("mrr", "hits@1", "hits@3", "hits@10", "valid_mrr", "seconds_per_epoch", "total_seconds")


def train(args: argparse.Namespace) -> int:
    """Train, save the checkpoint, print the filtered ranking metrics and the learned rules."""
    from ..cli import NEURORULE_OPTIONS

    given = {
        field: getattr(args, flag[2:].replace("-", "_"))
        for flag, (field, _, _) in NEURORULE_OPTIONS.items()
    }
    config = NeuroRuleConfig(
        dataset=args.dataset,
        data_dir=args.data_dir,
        progress=args.progress,
        seed=args.seed,
        **{field: value for field, value in given.items() if value is not None},
    )  # the config checks its options; the outputs are checked here, before any work
    at_least("threads", args.threads, 1)
    for path in (args.checkpoint, args.json_file):
        if path:
            writable(path)
    torch.set_num_threads(args.threads)
    kg = load_kg(config.dataset, config.data_dir)
    metrics = train_neurorule(config, kg, checkpoint=args.checkpoint)
    if args.json_file:
        write_json(metrics, args.json_file)
    print(f"NeuroRule on {metrics['dataset']}: filtered ranking, both directions, expected ties")
    print("  " + ", ".join(f"{k} {metrics[k]:.3f}" for k in SUMMARY))
    print("learned rules (weight, head :- body):")
    print(metrics["rules"])
    return 0


def rules(args: argparse.Namespace) -> int:
    """Print each head's top learned rules; with ``--program``, write them as a ProbLog program
    with the training facts (``nesy query`` runs it)."""
    at_least("top", args.top, 1)
    if args.program:
        writable(args.program)
    trained = load_checkpoint(args.checkpoint)
    for rule in learned_rules(trained.model, top=args.top):
        print(rule)
    if args.program:
        text = export_program(
            trained.model, trained.kg.train, trained.kg.entities, top=args.top, weights=args.weights
        )
        Path(args.program).write_text(text + "\n")
        print(f"wrote {args.program}")
    return 0


def explain(args: argparse.Namespace) -> int:
    """Explain ``--query`` ``relation(head, tail)``: with a ``?`` argument, the ``--top`` best
    answers, each with the reasoning chains behind its score."""
    at_least("top", args.top, 1)
    trained = load_checkpoint(args.checkpoint)
    kg, model = trained.kg, trained.model
    relation, head, tail = parse_query(args.query, kg)
    if head is None and tail is None:
        raise OptionError(f"query {args.query!r}: give the head or the tail (or both)")
    facts = adjacency(kg.train, kg.num_entities, kg.num_relations, trained.config.identity)
    with torch.no_grad():
        logits = model(facts).logits[relation]  # (E, E)
    if head is None:
        triples = [(h, relation, tail) for h in logits[:, tail].argsort(descending=True)]
    elif tail is None:
        triples = [(head, relation, t) for t in logits[head].argsort(descending=True)]
    else:
        triples = [(head, relation, tail)]
    for triple in triples[: args.top]:
        print(explain_triple(model, facts, triple, top=args.chains, entities=kg.entities))
        print()
    return 0


def parse_query(text: str, kg) -> tuple[int, int | None, int | None]:
    """``relation(head, tail)`` as ids, ``?`` as None; an unknown name is an OptionError."""
    match = QUERY.match(text)
    if match is None:
        raise OptionError(f"query {text!r} is not of the form relation(head, tail), '?' for one")
    relation, head, tail = match.groups()
    if relation not in kg.relations:
        raise OptionError(f"query {text!r}: unknown relation {relation!r} of {kg.name}")

    def entity(name: str) -> int | None:
        if name == "?":
            return None
        if name not in kg.entities:
            raise OptionError(f"query {text!r}: unknown entity {name!r} of {kg.name}")
        return kg.entities.index(name)

    return kg.relations.index(relation), entity(head), entity(tail)
