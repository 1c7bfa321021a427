"""The ``nesy demo`` and ``nesy rewrite`` commands."""

from __future__ import annotations

from nesy_ir.cli import main


def test_demo_prints_figure_4_and_the_value(capsys, tmp_path):
    dot = tmp_path / "alarm.dot"
    assert (
        main(["demo", "alarm", "--p-burglary", "0.5", "--p-earthquake", "0.2", "--dot", str(dot)])
        == 0
    )
    out = capsys.readouterr().out
    assert "-> burglary(V)[true]@prob + earthquake(S)[true]@prob * burglary(V)[false]@prob" in out
    assert "Circuit (Figure 4): burglary(V)[true]@prob + burglary(V)[false]@prob" in out
    assert "5 nodes, 4 edges, 3 leaves" in out
    assert "0.6000  (enumeration of the formula: 0.6000)" in out  # 0.5 + 0.5 * 0.2
    assert dot.read_text().startswith("digraph")


def test_rewrite_command_and_its_errors(capsys):
    assert main(["rewrite", "a@prob * b@prob + a@prob * c@prob"]) == 0
    assert "rewritten: a@prob * (b@prob + c@prob)" in capsys.readouterr().out
    assert main(["rewrite", "a@probability"]) == 2
    err = capsys.readouterr().err
    assert "unknown structure 'probability'" in err and "1:1" in err
