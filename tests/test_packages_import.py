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


@pytest.mark.parametrize("module", ["nesy_ir", *THIN])
def test_every_public_name_of_a_package_resolves(module):
    """The facades: each name in ``__all__`` is importable from the package itself."""
    mod = importlib.import_module(module)
    missing = [name for name in mod.__all__ if getattr(mod, name, None) is None]
    assert not missing
    assert set(mod.__all__) <= set(dir(mod))


def test_facades_import_their_modules_only_on_use():
    import subprocess
    import sys

    code = (
        "import sys, nesy_compile, nesy_models\n"
        "heavy = [m for m in ('torch', 'jax', 'pysdd') if m in sys.modules]\n"
        "from nesy_compile import atom_text, smooth\n"
        "print(heavy, 'pysdd' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] False False"
