"""The error and the warning the SATNet layers raise."""

from __future__ import annotations

from nesy_ir.errors import NesyError


class SATNetError(NesyError):
    """Bad input to a SATNet layer, or a solve that cannot go on (a zero gradient norm)."""


class SATNetWarning(UserWarning):
    """A SATNet solve that went on but whose result deserves a look (e.g. an undefined gradient)."""
