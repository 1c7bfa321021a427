"""The error Vi-SATNet raises on bad input (shapes, ratios, indices, missing checkpoints)."""

from __future__ import annotations

from nesy_ir.errors import NesyError


class ViSATNetError(NesyError):
    """Bad input to Vi-SATNet: a shape, a mask ratio, an index, or a model file."""
