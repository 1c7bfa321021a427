"""The error the data loaders raise: a missing or corrupt file, named."""

from __future__ import annotations

from nesy_ir.errors import NesyError


class DataError(NesyError):
    """A data directory or file that is missing, truncated or not in the expected format."""
