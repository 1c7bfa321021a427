"""The thin packages import and report the shared version."""

import importlib
import importlib.util

import pytest

THIN = ["nesy_compile", "nesy_torch", "nesy_jax", "nesy_models"]


@pytest.mark.parametrize("module", THIN)
def test_imports_and_reports_version(module):
    mod = importlib.import_module(module)
    assert mod.__version__ == "0.1.0"


def test_pysdd_available_matches_whether_pysdd_imports():
    import nesy_compile

    try:
        import pysdd.sdd  # noqa: F401
    except ImportError:
        expected = False
    else:
        expected = True
    assert nesy_compile.pysdd_available() is expected


def test_pysdd_is_installed():
    # nesy-compile depends on pysdd, so in a full install it must be there.
    assert importlib.util.find_spec("pysdd") is not None


def test_importing_nesy_compile_does_not_import_pysdd():
    import subprocess
    import sys

    code = "import sys, nesy_compile; print('pysdd' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
