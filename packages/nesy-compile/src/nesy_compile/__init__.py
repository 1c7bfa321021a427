"""nesy-compile: from logic programs to nesy-ir circuits.

This package will hold the front end for logic programs, grounding, knowledge compilation of the
Boolean parts of a formula with PySDD (to d-DNNF, then smoothed), and a DIMACS reader. None of that
is written yet; today it only reports its version and whether PySDD can be imported.
"""

from importlib.metadata import version as _version

__version__ = _version("nesy-compile")

__all__ = ["__version__", "pysdd_available"]


def pysdd_available() -> bool:
    """Return True if PySDD (the knowledge compiler this package uses) can be imported.

    The import happens here, not when ``nesy_compile`` is imported.
    """
    try:
        import pysdd.sdd  # noqa: F401
    except ImportError:
        return False
    return True
