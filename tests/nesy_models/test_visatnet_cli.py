"""``nesy train|explain|evaluate visatnet`` end to end on tiny settings."""

from __future__ import annotations

import json

import pytest

from nesy_ir.cli import main

TINY = [
    "--per-class", "12", "--val-per-class", "4", "--test-size", "40", "--epochs", "1",
    "--lenet-epochs", "1", "--lenet-train-size", "300", "--m", "16", "--max-iter", "8",
    "--batch-size", "12",
]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory, monkeypatch_module):
    out = tmp_path_factory.mktemp("visatnet")
    metrics = out / "metrics.json"
    assert main(["train", "visatnet", *TINY, "--out", str(out), "--json-file", str(metrics)]) == 0
    return out, json.loads(metrics.read_text())


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("NESY_DATA", raising=False)  # the embedded digits: fast and always there
        yield patch


@pytest.mark.slow  # ~10 s alone, 30 s on a loaded 2-core machine (imports, ten layers)
def test_train_writes_table_model_curves_and_rules(trained):
    out, metrics = trained
    ratios = [row["mask_ratio"] for row in metrics["median"]]
    assert ratios == pytest.approx([0.1 * i for i in range(1, 11)])
    for row in metrics["median"]:
        assert 0.0 <= row["with"] <= 100.0 and 0.0 <= row["without"] <= 100.0
    assert (out / "model.pt").is_file() and (out / "losses.png").stat().st_size > 0
    assert sorted(metrics["rules"]) == [str(d) for d in range(10)]


@pytest.mark.slow  # needs the trained fixture
def test_explain_draws_the_set_and_the_sweep(trained, tmp_path, capsys):
    out, _ = trained
    png = tmp_path / "msf.png"
    argv = ["explain", "visatnet", "--model", str(out / "model.pt"), "--image", "0"]
    argv += ["--target", "12", "--alpha", "0.9", "--sweep", "0.5,0.9", "--out", str(png)]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 12 not in result["msfs"][0]["kept"]
    assert png.stat().st_size > 0 and (tmp_path / "msf-sweep.png").stat().st_size > 0
    assert len(result["sweep"]) == 2


def test_explain_without_a_model_is_a_clear_error(tmp_path, capsys):
    argv = ["explain", "visatnet", "--model", str(tmp_path / "none.pt"), "--image", "0"]
    assert main([*argv, "--target", "0", "--out", str(tmp_path / "x.png")]) == 2
    assert "no Vi-SATNet model" in capsys.readouterr().err


@pytest.mark.slow  # needs the trained fixture
def test_evaluate_reproduces_the_training_runs_table(trained, tmp_path):
    out, metrics = trained
    table = tmp_path / "table.json"
    argv = ["evaluate", "visatnet", "--model", str(out / "model.pt"), "--test-size", "40"]
    assert main([*argv, "--json-file", str(table)]) == 0
    rows = json.loads(table.read_text())["table"]
    assert rows == metrics["runs"][0]["table"]  # the same model, the same masks (seed 0)
