"""The errors nesy-ir raises: each names the problem and where it is."""

from __future__ import annotations


class NesyError(Exception):
    """Base class of every error the library raises on bad input."""


class NesySyntaxError(NesyError):
    """Text that is not a formula; carries the line and column."""

    def __init__(self, message: str, text: str, line: int, column: int, source: str = "<formula>"):
        self.line, self.column, self.source = line, column, source
        lines = text.splitlines() or [""]
        shown, at = _window(lines[line - 1] if 0 < line <= len(lines) else "", column - 1)
        caret = " " * at + "^"
        super().__init__(f"{source}:{line}:{column}: {message}\n  {shown}\n  {caret}")


def _window(line: str, at: int, width: int = 100) -> tuple[str, int]:
    """At most ``width`` characters of ``line`` around index ``at`` (so that the message of a
    very long line stays short), and where ``at`` falls in them."""
    if len(line) <= width:
        return line, at
    start = max(0, min(at - width // 2, len(line) - width))
    prefix = "..." if start else ""
    suffix = "..." if start + width < len(line) else ""
    return prefix + line[start : start + width] + suffix, len(prefix) + at - start


class NestingError(NesySyntaxError):
    """Text nested deeper than the readers accept (see :mod:`nesy_ir.nesting`)."""


class NotTextError(NesyError):
    """A file read as text that is not UTF-8 (a binary file, or text in another encoding)."""


class UnknownStructureError(NesyError):
    """A structure (algebra) name nobody registered."""


class UnknownOperationError(NesyError):
    """An operation or aggregator a structure does not have."""


class StructureMismatchError(NesyError):
    """Values of two structures combined without a transformation."""


class UnknownTransformationError(NesyError):
    """No transformation is registered between two structures."""


class FreeVariableError(NesyError):
    """Aggregation over a variable that is not free in its body."""


class ReificationDomainError(NesyError):
    """Aggregation of a reification variable over constants instead of ``bool``."""


class UnboundVariableError(NesyError):
    """A variable with no value at evaluation."""


class LabelError(NesyError):
    """A label that is missing, of the wrong shape, NaN or outside its carrier."""


class CircuitError(NesyError):
    """A graph that is not a valid algebraic circuit (cycle, stray aggregation, ...)."""


class RewriteLoopError(NesyError):
    """Rules that keep rewriting a node back into an earlier form."""


class FormatVersionError(NesyError):
    """A serialised file written by a newer format version."""
