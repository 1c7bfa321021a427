"""The ``nesy`` command as a whole: cheap to start, conventional, consistent across packages.

Registering every package's commands imports no torch, JAX, PySDD, matplotlib or scikit-learn;
``nesy query`` and ``nesy wmc`` work without torch; ``--version``, a bare ``nesy``, help with
defaults, the same option names everywhere, shipped examples by name, ``--json``, progress bars,
a time budget that covers grounding, and clear errors for programs with nothing to compute.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest
from tests.nesy_compile.programs import WEIGHTED_CNF, problog

from nesy_compile.dimacs import read_dimacs
from nesy_compile.examples import shipped
from nesy_compile.wmc import brute_force_wmc
from nesy_ir.cli import build_parser, main

HEAVY = ("torch", "jax", "pysdd", "matplotlib", "sklearn", "problog", "tqdm")
#: Runs nesy's main() with torch unimportable (as with a missing or broken install).
WITHOUT_TORCH = "import sys; sys.modules['torch'] = None; from nesy_ir.cli import main; "


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) for ``parser`` and every subcommand below it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


# --- fast: registration imports nothing heavy; no torch needed for query and wmc -------------


def test_building_the_parser_and_help_import_nothing_heavy():
    code = (
        "import sys\n"
        "from nesy_ir.cli import build_parser, main\n"
        "build_parser()\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('loaded:', sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert "loaded: []" in done.stderr
    assert "query" in done.stdout and "train" in done.stdout  # every package registered


def test_query_and_wmc_answer_without_torch(tmp_path):
    expected = problog(shipped("alarm"))
    done = _python(
        WITHOUT_TORCH + "sys.exit(main(sys.argv[1:]))", "query", "--example", "alarm", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert "unavailable" not in done.stderr  # no package lost its commands
    values = json.loads(done.stdout)["values"]
    assert values.keys() == expected.keys()
    for name, p in expected.items():
        assert values[name] == pytest.approx(p, abs=1e-12)

    cnf = tmp_path / "small.cnf"
    cnf.write_text(WEIGHTED_CNF)
    done = _python(WITHOUT_TORCH + "sys.exit(main(sys.argv[1:]))", "wmc", str(cnf))
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) == pytest.approx(brute_force_wmc(read_dimacs(cnf)), rel=1e-12)


def test_a_command_that_needs_torch_says_so_without_it():
    done = _python(WITHOUT_TORCH + "sys.exit(main(sys.argv[1:]))", "train", "sudoku")
    assert done.returncode == 2
    assert "nesy train: a package it needs cannot be imported" in done.stderr
    assert "torch" in done.stderr and "Traceback" not in done.stderr


# --- conventional ------------------------------------------------------------------------------


def test_version_prints_every_installed_package(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for package in ("nesy-ir", "nesy-compile", "nesy-torch", "nesy-models"):
        assert f"{package} 0.1.0\n" in out


def test_bare_nesy_prints_the_help(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: nesy")
    for command in ("query", "compile", "wmc", "rewrite", "demo", "train", "evaluate"):
        assert f"    {command} " in out


def test_help_shows_defaults_and_names_features_not_sources():
    for path, parser in _parsers(build_parser()):
        text = parser.format_help()
        assert "source 0" not in text.lower() and "issue " not in text.lower(), path
        for action in parser._actions:
            default = action.default
            if not action.option_strings or default in (None, argparse.SUPPRESS):
                continue
            assert action.help, (path, action.option_strings)
            if not isinstance(default, bool):
                assert f"(default: {default})" in " ".join(text.split()), (path, action.dest)
    query = build_parser().parse_args(["query", "x.pl"])
    assert (query.semantics, query.vtree, query.time_budget) == ("prob", "balanced", None)


def test_the_same_option_means_the_same_everywhere():
    seen: dict[str, list[tuple[tuple[str, ...], argparse.Action]]] = {}
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            for option in action.option_strings:
                seen.setdefault(option, []).append((path, action))
    # --json prints the result as JSON; a file to write JSON to is --json-file
    assert {p for p, _ in seen["--json"]} == {("query",), ("compile",), ("wmc",)}
    assert all(a.nargs == 0 for _, a in seen["--json"])
    assert {p[0] for p, _ in seen["--json-file"]} == {"train", "evaluate"}
    # one help text for the data folder; seeds are ints; progress is --progress/--no-progress
    assert len({a.help for _, a in seen["--data-dir"]}) == 1
    assert len(seen["--data-dir"]) >= 5
    assert all(a.type is int and a.default == 0 for _, a in seen["--seed"])
    assert all(isinstance(a, argparse.BooleanOptionalAction) for _, a in seen["--progress"])
    assert {p[0] for p, _ in seen["--progress"]} == {"query", "compile", "wmc", "train"}
    assert all(a.default == "prob" for _, a in seen["--semantics"])
    for command in ("query", "compile", "wmc"):
        assert command in {p[0] for p, _ in seen["--time-budget"]}


def test_query_reaches_the_shipped_examples_by_name(capsys, tmp_path):
    assert main(["query", "--example", "alarm"]) == 0
    assert capsys.readouterr().out == "alarm: 0.72\ncalls: 0.6832\n"  # ProbLog's values
    with pytest.raises(SystemExit):
        main(["query", "--help"])
    out = capsys.readouterr().out
    assert "--example NAME" in out and "reachability  Reachability on a probabilistic" in out
    with pytest.raises(SystemExit) as stop:
        main(["query", "--example", "nosuch"])
    assert stop.value.code == 2 and "invalid choice: 'nosuch'" in capsys.readouterr().err
    program = tmp_path / "alarm.pl"
    program.write_text(shipped("alarm"))
    assert main(["query", str(program), "--example", "alarm"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["query"]) == 2
    assert "give a file or --example NAME" in capsys.readouterr().err


def test_query_json_gives_every_value(capsys):
    expected = problog(shipped("reachability"))
    assert main(["query", "--example", "reachability", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["semantics"] == "prob" and result["file"] == "reachability.pl"
    assert result["values"] == pytest.approx(expected, abs=1e-12)
    assert main(["query", "--example", "reachability", "--json", "--semantics", "godel"]) == 0
    assert json.loads(capsys.readouterr().out)["values"]["path(a,e)"] == pytest.approx(0.4)


def test_wmc_json(tmp_path, capsys):
    cnf = tmp_path / "small.cnf"
    cnf.write_text(WEIGHTED_CNF)
    assert main(["wmc", str(cnf), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["algebra"] == "prob" and result["backend"] == "numpy"
    assert result["value"] == pytest.approx(brute_force_wmc(read_dimacs(cnf)), rel=1e-12)


# --- nothing to compute ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the program is empty"),
        ("% only a comment\n\n", "the program is empty"),
        ("0.5::a.\nb :- a.\n", "the program has no queries"),
        ("0.5::edge(a, b).\npath(X, Y) :- edge(X, Y).\nquery(path(b, X)).\n", "no query has"),
    ],
)
@pytest.mark.parametrize("command", ["query", "compile"])
def test_a_program_with_nothing_to_compute_is_an_error(tmp_path, capsys, command, text, message):
    program = tmp_path / "prog.pl"
    program.write_text(text)
    assert main([command, str(program)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"nesy {command}: {program}: {message}" in captured.err


# --- long work: progress and a time budget over the whole compilation ---------------------------

#: Grounding this enumerates 300,000 numbers (seconds); compiling what is left is trivial.
LARGE_GROUNDING = """
0.5::coin.
num(0).
num(N) :- num(M), M < 300000, N is M + 1.
big :- num(300000), coin.
query(big).
"""


def test_progress_bars_when_asked_for(capsys):
    assert main(["compile", "--example", "reachability", "--progress"]) == 0
    err = capsys.readouterr().err
    assert "grounding" in err and "SDD compilation" in err
    assert main(["compile", "--example", "reachability"]) == 0  # stderr is not a terminal here
    assert capsys.readouterr().err == ""


def test_time_budget_covers_grounding(tmp_path, capsys):
    program = tmp_path / "large.pl"
    program.write_text(LARGE_GROUNDING)
    assert main(["query", str(program), "--time-budget", "0.2"]) == 2
    err = capsys.readouterr().err
    assert "compilation exceeded its time budget of 0.2 s" in err and "stage: grounding" in err


def test_time_budget_covers_every_stage_in_the_library():
    from nesy_compile.grounding import ground
    from nesy_compile.program import parse_program
    from nesy_compile.progress import CompileBudgetError, Deadline
    from nesy_compile.translate import translate

    with pytest.raises(CompileBudgetError, match="stage: grounding"):
        ground(parse_program(LARGE_GROUNDING), time_budget_s=0.2)
    gp = ground(parse_program(shipped("reachability")), time_budget_s=60)
    with pytest.raises(CompileBudgetError, match="stage: assignments"):
        translate(gp, time_budget_s=Deadline(0.0))
    with pytest.raises(CompileBudgetError, match="stage: logic formulas"):
        translate(gp, time_budget_s=Deadline(0.0), direct=False)
    assert translate(gp, time_budget_s=60).probabilities()["path(a,d)"] == pytest.approx(0.318)
