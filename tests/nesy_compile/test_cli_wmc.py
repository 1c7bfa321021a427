"""``nesy wmc`` and ``nesy compile`` on DIMACS files, through the ``nesy`` entry point."""

from __future__ import annotations

import json
import math

import pytest
from tests.nesy_compile.programs import WEIGHTED_CNF

from nesy_compile.dimacs import read_dimacs
from nesy_compile.wmc import brute_force_wmc
from nesy_ir.cli import main


@pytest.fixture
def cnf_file(tmp_path):
    path = tmp_path / "small.cnf"
    path.write_text(WEIGHTED_CNF)
    return path


@pytest.mark.parametrize("vtree", ["balanced", "right"])
def test_wmc_prints_the_weighted_model_count(cnf_file, capsys, vtree):
    expected = brute_force_wmc(read_dimacs(cnf_file))
    assert main(["wmc", str(cnf_file), "--vtree", vtree]) == 0
    assert float(capsys.readouterr().out) == pytest.approx(expected, rel=1e-12)
    assert main(["wmc", str(cnf_file), "--algebra", "logprob", "--backend", "numpy"]) == 0
    assert float(capsys.readouterr().out) == pytest.approx(math.log(expected), rel=1e-12)


def test_weights_outside_the_unit_interval_default_to_real(tmp_path, capsys):
    path = tmp_path / "real.dimacs"
    path.write_text("p cnf 2 1\n1 2 0\nc p weight 1 2.5 0\nw -2 -1\n")
    assert main(["wmc", str(path)]) == 0
    assert float(capsys.readouterr().out) == pytest.approx(brute_force_wmc(read_dimacs(path)))
    assert main(["wmc", str(path), "--algebra", "prob"]) == 2
    assert "outside [0, 1]" in capsys.readouterr().err


def test_compile_prints_statistics(cnf_file, capsys):
    assert main(["compile", str(cnf_file)]) == 0
    out = capsys.readouterr().out
    assert "4 variables, 3 clauses" in out and "SDD (balanced vtree)" in out
    assert "circuit before rewriting (2^n worlds enumerated)" in out
    assert "circuit after rewriting (prob" in out
    assert main(["compile", str(cnf_file), "--json", "--vtree", "right"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["vtree"] == "right" and stats["variables"] == 4
    assert stats["after"]["nodes"] < stats["before"]["nodes"]


def test_errors_print_cleanly(tmp_path, cnf_file, capsys):
    bad = tmp_path / "bad.cnf"
    bad.write_text("p cnf 2 1\n1 3 0\n")
    assert main(["wmc", str(bad)]) == 2
    assert f"nesy wmc: {bad}:2: literal 3 out of range" in capsys.readouterr().err
    assert main(["wmc", str(cnf_file), "--backend", "tensorflow"]) == 2
    assert "backend 'tensorflow' needs: pip install nesy-tensorflow" in capsys.readouterr().err
    assert main(["compile", str(tmp_path / "prog.xyz")]) == 2
    assert "compile of .xyz files is not supported yet" in capsys.readouterr().err
    assert main(["wmc", str(tmp_path / "missing.cnf")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_query_and_compile_programs(capsys, tmp_path):
    from nesy_compile.examples import shipped
    from nesy_ir.cli import main

    program = tmp_path / "reach.pl"
    program.write_text(shipped("reachability"))
    assert main(["query", str(program)]) == 0
    out = capsys.readouterr().out
    assert "path(a,d): 0.318\n" in out and "open(e): 0.10176\n" in out  # ProbLog's values
    assert main(["query", str(program), "--semantics", "godel"]) == 0
    assert "path(a,e): 0.4\n" in capsys.readouterr().out  # max-min over the paths
    assert main(["compile", str(program), "--json"]) == 0
    assert '"circuit_nodes"' in capsys.readouterr().out
    pairs = tmp_path / "pairs.pl"
    pairs.write_text("0.2::a(1); 0.5::a(2).\n0.4::b.\nq :- a(1), b.\nq :- a(2), \\+b.\nquery(q).\n")
    assert main(["compile", str(pairs)]) == 0
    out = capsys.readouterr().out
    assert "1 of 1 queries counted from their assignments, without an SDD" in out
    assert main(["query", str(pairs)]) == 0
    assert "q: 0.38\n" in capsys.readouterr().out  # 0.2 * 0.4 + 0.5 * 0.6
    assert main(["query", str(tmp_path / "missing.pl")]) == 2
    assert "missing.pl" in capsys.readouterr().err
