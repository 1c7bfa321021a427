"""The errors nesy-ir raises: each names the problem and where it is."""

from __future__ import annotations


class NesyError(Exception):
    """Base class of every error the library raises on bad input."""


class NesySyntaxError(NesyError):
    """Text that is not a formula; carries the line and column."""

    def __init__(self, message: str, text: str, line: int, column: int, source: str = "<formula>"):
        self.line, self.column, self.source = line, column, source
        lines = text.splitlines() or [""]
        shown = lines[line - 1] if 0 < line <= len(lines) else ""
        caret = " " * (column - 1) + "^"
        super().__init__(f"{source}:{line}:{column}: {message}\n  {shown}\n  {caret}")


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
