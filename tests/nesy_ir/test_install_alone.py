"""Installing nesy-ir alone, in a clean virtual environment, imports without torch, jax or pysdd."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import importlib, pkgutil, sys
import nesy_ir
for m in pkgutil.walk_packages(nesy_ir.__path__, "nesy_ir."):
    importlib.import_module(m.name)
heavy = sorted(n for n in ("torch", "jax", "pysdd") if n in sys.modules)
assert not heavy, heavy
for n in ("torch", "jax", "pysdd"):
    try:
        importlib.import_module(n)
    except ImportError:
        pass
    else:
        raise SystemExit(f"{n} is installed in the clean venv")
print(nesy_ir.to_circuit(nesy_ir.parse("a@prob * b@prob + a@prob * c@prob")).stats()["nodes"])
"""


@pytest.mark.slow
def test_nesy_ir_installs_and_imports_alone(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [python, "-m", "pip", "install", "-qq", str(ROOT / "packages" / "nesy-ir")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr
    run = subprocess.run([python, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "5"  # a * (b + c): three leaves, (+) and (x)
    assert sys.prefix != str(env_dir)
