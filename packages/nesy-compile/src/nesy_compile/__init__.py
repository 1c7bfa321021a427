"""nesy-compile: from logic programs to nesy-ir circuits.

The front end for DeepProbLog-style logic programs (:mod:`.program`), relevant grounding
(:mod:`.grounding`), translation into DeepLog formulas under probabilistic or fuzzy semantics and
knowledge compilation with PySDD (:mod:`.translate`, :mod:`.sdd`), smoothing (:mod:`.smooth`),
DIMACS and weighted model counting (:mod:`.dimacs`, :mod:`.wmc`), and the ``nesy wmc``,
``nesy compile`` and ``nesy query`` commands (:mod:`.cli`). Modules are imported on use, so that
``import nesy_compile`` stays cheap.
"""

from importlib.metadata import version as _version

from nesy_ir.facade import lazy_exports

__version__ = _version("nesy-compile")

#: The public names defined in other modules, imported on first use.
_EXPORTS = {
    "CompiledProgram": ".translate",
    "EvidenceError": ".ground_program",
    "atom_text": ".ground_program",
    "compile_cnf": ".wmc",
    "read_dimacs": ".dimacs",
    "smooth": "nesy_ir.smooth",
    "shipped": ".examples",
    "mnist_addition_standard": ".examples",
    "mnist_addition_carry": ".examples",
    "sudoku4": ".examples",
}
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

__all__ = ["__version__", "compile_program", "pysdd_available", *_EXPORTS]


def compile_program(
    text: str, semantics: str = "prob", vtree: str = "balanced", source="<program>"
):
    """Parse, ground and compile a program's queries into one circuit (a CompiledProgram)."""
    from .grounding import ground
    from .program import parse_program
    from .translate import translate

    return translate(ground(parse_program(text, source)), semantics, vtree)


def pysdd_available() -> bool:
    """Return True if PySDD (the knowledge compiler this package uses) can be imported.

    The import happens here, not when ``nesy_compile`` is imported.
    """
    try:
        import pysdd.sdd  # noqa: F401
    except ImportError:
        return False
    return True
