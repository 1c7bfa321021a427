"""Reading the text files users give (formulas, programs, DIMACS, saved circuits): UTF-8 only.

Every reader goes through :func:`read_text`, so a binary file or a file in another encoding is
one clear error naming the file and the first bad byte, never a ``UnicodeDecodeError`` trace.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import NotTextError

__all__ = ["read_text"]


def read_text(path: str | os.PathLike) -> str:
    """The text of the UTF-8 file ``path``, newlines as ``\\n`` (a leading byte-order mark
    dropped). Raises :class:`NotTextError` naming ``file:line:column`` and the byte offset of
    the first byte that is not UTF-8, and ``OSError`` when the file cannot be read."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - data.rfind(b"\n", 0, e.start)  # in bytes, from 1
        raise NotTextError(
            f"{os.fspath(path)}:{line}:{column}: not a UTF-8 text file: byte"
            f" 0x{data[e.start]:02x} at offset {e.start} ({e.reason}); save it as UTF-8"
        ) from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
