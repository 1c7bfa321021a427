"""``nesy demo mnist-addition``, the README's main job: it trains and says how it compiled."""

import pytest

pytest.importorskip("torch")

from nesy_ir.cli import main  # noqa: E402
from nesy_models.demo import compiled_text  # noqa: E402
from nesy_models.tasks import mnist_addition  # noqa: E402


def test_the_demo_learns_and_draws_its_curve(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("NESY_DATA", raising=False)  # the embedded digits
    plot = tmp_path / "curve.png"
    assert main(["demo", "mnist-addition", "--epochs", "2", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "compiled by the linear-sum compiler" in out
    accuracy = float(out.split("Test accuracy (the whole sum right): ")[1].split()[0])
    assert accuracy > 0.5  # 89 sums of two 2-digit numbers: chance is about 1 %
    assert plot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("compiler", ["linear-sum", "grounding"])
def test_compiled_text_names_what_each_compiler_made(compiler):
    compiled = mnist_addition(1, compiler=compiler).compiled("prob")
    text = compiled_text(compiled.stats)
    assert "circuit 137 nodes / 298 edges, depth 2" in text
    assert ("19 queries counted from their assignments" in text) == (compiler == "grounding")
    assert "SDD size" not in text  # every sum is a disjunction of assignments


def test_compiled_text_names_the_sdd_of_what_it_compiled():
    from nesy_compile.examples import shipped
    from nesy_compile.grounding import ground
    from nesy_compile.program import parse_program
    from nesy_compile.translate import translate

    compiled = translate(ground(parse_program(shipped("reachability"))))
    text = compiled_text(compiled.stats)
    assert f"SDD size {compiled.stats['sdd_size']}" in text
    assert "counted from their assignments" not in text
