"""glibc's allocator told to keep freed memory for reuse, so that a circuit's next pass does not
fault fresh pages in.

Tensors and arrays of more than 128 KB are ``mmap``'d by glibc and returned to the OS when
freed; its threshold adapts upwards only after such a block is freed, and it also trims the
heap whenever the free space at its top exceeds twice that. A pass over a large circuit frees
and allocates tens of MB of temporaries, so each pass can pay first-touch page faults for them
again (MNIST addition N = 2 scoring every sum at batch 1024: 10.7 against 3.3 ms forward +
backward; docs/benchmarks.md, "Tiles of the batch, and freed memory kept for reuse"). The
``nesy`` command sets this for its own process; a script calls :func:`reuse_freed_memory` once,
at its start.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters

#: Blocks below this size come from the heap and are reused when freed: the most glibc's own
#: adaptive threshold reaches (32 MB on 64-bit systems).
MMAP_THRESHOLD = 1 << 25

#: Free memory at the heap's top kept rather than returned to the OS (glibc's adaptive value
#: for the threshold above).
TRIM_THRESHOLD = 1 << 26


def libc() -> ctypes.CDLL | None:
    """glibc, where this process runs on it (Linux), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        found = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return found if hasattr(found, "mallopt") else None


def reuse_freed_memory() -> bool:
    """Keep freed blocks up to :data:`MMAP_THRESHOLD` for reuse and up to
    :data:`TRIM_THRESHOLD` of free heap (process-wide); True if set, False where the process
    does not run on glibc (nothing changed)."""
    found = libc()
    if found is None:
        return False
    mmap = found.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    trim = found.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    return bool(mmap and trim)
