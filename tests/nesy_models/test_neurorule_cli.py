"""``nesy train neurorule``, ``nesy rules`` and ``nesy explain neurorule``: a checkpoint keeps
the model exactly, the rules it prints are the model's, the exported program runs, and bad input
is named."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from nesy_ir.cli import main
from nesy_models.neurorule import learned_rules
from nesy_models.neurorule.checkpoint import load_checkpoint
from nesy_models.neurorule.explain import implied_pairs, rule_weight
from nesy_models.neurorule.model import adjacency

TINY = ["--epochs", "2", "--templates", "2", "--max-length", "2", "--no-progress"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("neurorule")
    checkpoint, metrics = out / "family.pt", out / "family.json"
    argv = ["train", "neurorule", *TINY, "--checkpoint", str(checkpoint)]
    assert main([*argv, "--json-file", str(metrics)]) == 0
    return checkpoint, json.loads(metrics.read_text())


def test_the_checkpoint_keeps_the_model_and_its_graph(trained):
    checkpoint, metrics = trained
    saved = load_checkpoint(checkpoint)
    assert saved.kg.name == metrics["dataset"] == "family"
    assert (saved.config.rules, saved.config.length, saved.config.epochs) == (2, 2, 2)
    facts = adjacency(saved.kg.train, saved.kg.num_entities, saved.kg.num_relations)
    again = load_checkpoint(checkpoint)
    with torch.no_grad():
        torch.testing.assert_close(saved.model(facts).logits, again.model(facts).logits)
    assert metrics["rules"] == "\n".join(map(str, learned_rules(saved.model, top=3)))


def test_rules_prints_the_models_rules_and_writes_a_program_that_runs(trained, tmp_path, capsys):
    checkpoint, _ = trained
    program = tmp_path / "rules.pl"
    assert (
        main(["rules", "--checkpoint", str(checkpoint), "--top", "1", "--program", str(program)])
        == 0
    )
    printed = capsys.readouterr().out.splitlines()
    rules = learned_rules(load_checkpoint(checkpoint).model, top=1)
    assert printed[: len(rules)] == [str(rule) for rule in rules]
    # a test triple's probability in the program: the noisy-or of the rules whose body holds
    kg = load_checkpoint(checkpoint).kg
    (h, r, t) = kg.test[0]
    head, relation, tail = kg.names(kg.test[:1])[0]
    program.write_text(program.read_text() + f"query({relation}({head}, {tail})).\n")
    assert main(["query", str(program), "--json"]) == 0
    (answer,) = json.loads(capsys.readouterr().out)["values"].values()
    miss = 1.0
    for rule in rules:
        if rule.head == relation and rule.weight > 0 and rule.body:
            if implied_pairs(rule, kg.train, kg.num_entities, kg.relations)[h, t]:
                miss *= 1 - rule_weight(rule)
    assert answer == pytest.approx(1 - miss, abs=1e-6)


def test_explain_prints_the_chains_of_the_best_answers(trained, capsys):
    checkpoint, _ = trained
    kg = load_checkpoint(checkpoint).kg
    head, relation, _ = kg.names(kg.test[:1])[0]
    argv = ["explain", "neurorule", "--checkpoint", str(checkpoint), "--top", "2", "--chains", "1"]
    assert main([*argv, "--query", f"{relation}({head}, ?)"]) == 0
    blocks = capsys.readouterr().out.strip().split("\n\n")
    assert len(blocks) == 2 and all(b.startswith(f"{relation}({head}, ") for b in blocks)
    assert all("bias" in b for b in blocks)


@pytest.mark.parametrize(
    "query, message",
    [
        ("grandparent(nobody, ?)", "unknown entity 'nobody' of family"),
        ("friend(?, adams_01)", "unknown relation 'friend' of family"),
        ("grandparent adams_01", "is not of the form relation(head, tail)"),
        ("grandparent(?, ?)", "give the head or the tail"),
    ],
)
def test_a_bad_query_is_named(trained, capsys, query, message):
    checkpoint, _ = trained
    assert main(["explain", "neurorule", "--checkpoint", str(checkpoint), "--query", query]) == 2
    assert message in capsys.readouterr().err


def test_a_file_that_is_not_a_checkpoint_is_named_and_kept(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("just some notes\n")
    assert main(["rules", "--checkpoint", str(notes)]) == 2
    assert f"{notes} is not a NeuroRule checkpoint" in capsys.readouterr().err
    assert notes.read_text() == "just some notes\n"


def test_a_rule_length_above_four_is_refused_before_any_work(capsys):
    assert main(["train", "neurorule", "--max-length", "5", "--no-progress"]) == 2
    assert "at most 4 atoms" in capsys.readouterr().err


def test_training_resumes_from_its_checkpoint_exactly(tmp_path):
    from nesy_models.data.kg import load_kg
    from nesy_models.neurorule import NeuroRuleConfig, train_neurorule

    kg = load_kg("family")
    config = NeuroRuleConfig(rules=2, length=2, epochs=3, patience=10, lr=0.05)
    straight = train_neurorule(config, kg, return_model=True)
    path = tmp_path / "run.pt"
    first = train_neurorule(replace(config, epochs=1), kg, checkpoint=path)
    resumed = train_neurorule(config, kg, return_model=True, checkpoint=path)
    assert first["epochs_run"] == 1 and resumed["epochs_run"] == 3
    for a, b in zip(resumed["history"], straight["history"], strict=True):
        assert a == pytest.approx(b, rel=1e-6)
    for name, value in straight["model"].state_dict().items():
        torch.testing.assert_close(resumed["model"].state_dict()[name], value)
    assert resumed["mrr"] == pytest.approx(straight["mrr"])
    saved = load_checkpoint(path)  # the best model, for nesy rules and explain
    torch.testing.assert_close(saved.model.gamma, resumed["model"].gamma)


def test_a_checkpoint_of_another_graph_or_other_options_is_refused_and_kept(trained, capsys):
    checkpoint, _ = trained
    before = checkpoint.read_bytes()
    argv = ["train", "neurorule", *TINY, "--checkpoint", str(checkpoint)]
    other = tmp_folder_with_another_graph(checkpoint.parent)
    assert main([*argv, "--dataset", str(other)]) == 2
    err = capsys.readouterr().err
    assert "checkpoint of the knowledge graph 'family'" in err and "it is kept" in err
    assert main([*argv, "--tau", "0.5"]) == 2
    assert "tau 0.1 -> 0.5" in capsys.readouterr().err
    assert checkpoint.read_bytes() == before


def tmp_folder_with_another_graph(parent):
    folder = parent / "tiny-graph"
    folder.mkdir(exist_ok=True)
    for split in ("train", "valid", "test"):
        (folder / f"{split}.txt").write_text("a\tr\tb\nb\tr\tc\n")
    return folder
