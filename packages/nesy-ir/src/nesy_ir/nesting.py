"""How deep formulas and program terms may nest, and stack room for the code that walks them.

Readers refuse input nested deeper than :data:`MAX_NESTING` with a :class:`NestingError` at the
place. Recursive code over nested input runs inside :func:`recursion_room`, which raises Python's
recursion limit for the block: since Python 3.11 pure-Python calls do not use the C stack, and
:data:`MAX_NESTING` leaves a wide margin for those that do (generator expressions).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["MAX_NESTING", "recursion_room"]

#: The deepest nesting (parentheses, operators, arguments, list elements) readers accept.
MAX_NESTING = 5000


@contextmanager
def recursion_room(frames: int = 10 * MAX_NESTING) -> Iterator[None]:
    """Let the block recurse ``frames`` deep (Python's limit is restored afterwards)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, frames))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)
