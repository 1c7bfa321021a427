"""Bad input gets a clear error naming the problem and its place; nothing is silently wrong.

One test per family: files that are not UTF-8, deep nesting, training options, files that are
not checkpoints, outputs that cannot be written, reification over constants, and programs with
constructs the front end does not implement.
"""

from __future__ import annotations

import pytest
import torch
from tests.nesy_compile.programs import problog

from nesy_compile.dimacs import read_dimacs
from nesy_compile.grounding import GroundingBudgetError, brute_force_probabilities, ground
from nesy_compile.program import load_program, parse_program
from nesy_ir.cli import main
from nesy_ir.errors import (
    NestingError,
    NesySyntaxError,
    NotTextError,
    ReificationDomainError,
)
from nesy_ir.evaluate import evaluate
from nesy_ir.nesting import MAX_NESTING
from nesy_ir.nodes import aggregate, apply, atom
from nesy_ir.serialize import load
from nesy_ir.syntax import parse, to_text
from nesy_ir.terms import Var
from nesy_models.checks import CheckpointError, OptionError
from nesy_models.experiment import RunConfig, write_json
from nesy_models.learners import TrainConfig, fit
from nesy_models.visatnet.experiment import ExperimentConfig, load_model
from nesy_models.visatnet.training import LayerConfig


# --- 1. files that are not UTF-8 -----------------------------------------------------------
@pytest.mark.parametrize(
    "name, read, text",
    [
        ("f.txt", None, b"a@prob + b@prob # caf\xe9\n"),  # read by `nesy rewrite --file`
        ("p.pl", load_program, b"0.5::a.\n% caf\xe9\nquery(a).\n"),
        ("c.cnf", read_dimacs, b"p cnf 1 1\nc caf\xe9\n1 0\n"),
        ("n.json", load, b'{"format": 1,\n "x": "caf\xe9"}'),
    ],
)
def test_a_file_that_is_not_utf8_names_the_file_line_and_byte(tmp_path, capsys, name, read, text):
    path = tmp_path / name
    path.write_bytes(text)
    offset = text.index(b"\xe9")
    line = text.count(b"\n", 0, offset) + 1
    if read is None:
        assert main(["rewrite", "--file", str(path)]) == 2
        message = capsys.readouterr().err
        assert message.count("\n") == 1  # one line, no traceback
    else:
        with pytest.raises(NotTextError) as e:
            read(path)
        message = str(e.value)
    assert f"{path}:{line}:" in message
    assert "not a UTF-8 text file" in message and f"offset {offset}" in message
    assert path.read_bytes() == text


# --- 2. deep structures --------------------------------------------------------------------
def test_deep_nesting_works_up_to_the_limit_and_is_a_located_error_beyond():
    deep = 3000
    assert parse("(" * deep + "a@prob" + ")" * deep) is atom("a", (), "prob")
    chain = atom("a", (), "prob")
    for _ in range(deep):
        chain = apply("neg", chain)
    assert to_text(chain) == "~" * deep + "a@prob"
    assert parse(to_text(chain)) is chain
    assert float(evaluate(chain, {"a": 0.25})) == pytest.approx(0.25)  # an even number of ~
    with pytest.raises(NestingError) as e:
        parse("\n" + "(" * (MAX_NESTING + 10) + "a@prob" + ")" * (MAX_NESTING + 10), "f.dl")
    assert (e.value.source, e.value.line) == ("f.dl", 2)
    assert f"nested deeper than {MAX_NESTING}" in str(e.value) and len(str(e.value)) < 400

    term = "f(" * deep + "x" + ")" * deep
    listed = "[" + ",".join(map(str, range(deep))) + "]"
    program = parse_program(f"0.5::a.\nq(X) :- a.\nquery(q({term})).\nquery(q({listed})).")
    assert str(parse_program(str(program))) == str(program)
    assert sorted(brute_force_probabilities(ground(program)).values()) == [0.5, 0.5]
    with pytest.raises(NestingError) as e:
        parse_program("a.\nb(" + "f(" * MAX_NESTING + "x" + ")" * MAX_NESTING + ").", "p.pl")
    assert (e.value.source, e.value.line) == ("p.pl", 2)

    looping = parse_program("p(X) :- p(s(X)).\np(a).\nquery(p(a)).", "loop.pl")
    with pytest.raises(GroundingBudgetError) as e:
        ground(looping, max_depth=3000)
    message = str(e.value)
    assert "loop.pl:1:1: recursion deeper than max_depth=3000" in message and len(message) < 400


# --- 3. training options -------------------------------------------------------------------
@pytest.mark.parametrize(
    "config, option, value",
    [
        (RunConfig, "epochs", 0),
        (RunConfig, "patience", -1),
        (RunConfig, "train_size", 0),
        (RunConfig, "lr", 0.0),
        (RunConfig, "augment", -2),
        (RunConfig, "seed", -1),
        (RunConfig, "weight_decay", -0.1),
        (RunConfig, "backend", "tf"),
        (TrainConfig, "batch_size", 0),
        (TrainConfig, "lr", float("nan")),
        (TrainConfig, "weight_decay", -0.1),
        (LayerConfig, "mask_ratio", 0.0),
        (LayerConfig, "m", 0),
        (ExperimentConfig, "per_class", 0),
        (ExperimentConfig, "lenet_epochs", 0),
    ],
)
def test_a_bad_training_option_is_refused_by_its_config_and_the_cli(
    config, option, value, capsys, monkeypatch
):
    with pytest.raises(OptionError) as e:
        config(**{option: value})
    assert option in str(e.value) and repr(value) in str(e.value)
    if config is RunConfig and option != "backend":  # the same check, before any work
        import nesy_models.experiment

        monkeypatch.setattr(nesy_models.experiment, "run", pytest.fail)  # never reached
        flag = "--" + option.replace("_", "-")
        argv = ["train", "mnist-addition", f"{flag}={value}", "--no-progress"]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert option in err and err.count("\n") == 1
    if option == "epochs":  # options only the command has are checked as early
        assert main(["train", "mnist-addition", "--nproc", "0", "--no-progress"]) == 2
        assert "nproc must be at least 1, got 0" in capsys.readouterr().err


# --- 4. files that are not checkpoints -----------------------------------------------------
@pytest.mark.parametrize("kind", ["torch", "visatnet", "jax"])
def test_a_file_that_is_not_a_checkpoint_is_named_and_kept(tmp_path, capsys, kind):
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\n")
    if kind == "torch":
        model = torch.nn.Linear(2, 2)
        with pytest.raises(CheckpointError, match=f"{path} is not a nesy checkpoint: "):
            fit(model, None, None, TrainConfig(checkpoint=path, progress=False))
    elif kind == "visatnet":
        with pytest.raises(CheckpointError, match=f"{path} is not a Vi-SATNet model"):
            load_model(path)
        argv = ["evaluate", "visatnet", "--model", str(path)]
        assert main(argv) == 2
        assert "is not a Vi-SATNet model" in capsys.readouterr().err
    else:
        jax_training = pytest.importorskip("nesy_models.learners.jax_training")
        with pytest.raises(CheckpointError, match=f"{path} is not a nesy checkpoint"):
            jax_training._resume(path, {}, ())
    assert path.read_text() == "just some notes\n"  # nothing the user saved is lost


# --- 5. outputs that cannot be written -----------------------------------------------------
def test_an_unwritable_json_path_is_refused_before_training_and_leaves_no_tmp(
    tmp_path, capsys, monkeypatch
):
    import nesy_models.experiment

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(nesy_models.experiment, "run", pytest.fail)  # never reached
    out = blocker / "metrics.json"  # its folder is a file
    assert main(["train", "mnist-addition", "--json-file", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{out} cannot be written: {blocker} is not a folder" in err
    folder = tmp_path / "metrics.json"
    folder.mkdir()  # the write itself fails: no temporary file stays behind
    with pytest.raises(OSError):
        write_json({"accuracy": 1.0}, folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "metrics.json"]


# --- 6. reification over constants --------------------------------------------------------
def test_a_reification_variable_over_constants_is_refused_at_construction():
    with pytest.raises(ReificationDomainError) as e:
        parse("a@prob +\n  sum X in {a, b}: p[X]@prob", "r.dl")
    message = str(e.value)
    assert message.startswith("r.dl:2:3: X is the reification variable of p[X]@prob")
    assert "{a, b}" in message and "'in bool'" in message
    with pytest.raises(ReificationDomainError, match="X is the reification variable"):
        aggregate("sum", "X", ("a", "b"), atom("p", (), "prob", Var("X")))
    assert to_text(parse("sum X in {a, b}: p(X)@prob")) == "sum X in {a, b}: p(X)@prob"


# --- 7. programs with constructs the front end does not implement --------------------------
@pytest.mark.parametrize(
    "clause, words",
    [
        ("evidence(b, maybe).", "the value of evidence must be true or false"),
        ("0.5::evidence(b).", "evidence/1 is written 'evidence(atom).'"),
        ("query(\\+ b(X)).", "a negated query must be ground"),
        (":- use_module(library(assoc)).", "library(assoc) is not supported"),
        (":- initialization(main).", "unknown directive"),
        ("a :- (b -> c ; d).", "if-then-else"),
        ("0.5::query(a).", "query/1 is written 'query(atom).'"),
    ],
)
def test_a_construct_the_front_end_does_not_implement_is_refused_with_its_place(
    clause, words, tmp_path
):
    head = "0.3::b.\n0.4::c.\na :- b.\na :- c, \\+ b.\nquery(a).\n"
    assert brute_force_probabilities(ground(parse_program(head))) == pytest.approx(
        {("a", ()): problog(head)["a"]}
    )
    path = tmp_path / "prog.pl"
    path.write_text(head + clause + "\n")
    with pytest.raises(NesySyntaxError) as e:
        load_program(path)
    assert (e.value.source, e.value.line) == (str(path), 6)
    assert words in str(e.value)
