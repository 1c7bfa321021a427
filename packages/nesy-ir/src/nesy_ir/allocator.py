"""glibc's allocator told to keep freed memory for reuse, so that a circuit's next pass does not
fault fresh pages in.

glibc serves blocks of more than 128 KB with ``mmap`` and returns them to the OS when freed;
its threshold adapts upwards only after such a block is freed, up to 32 MB, and it also trims
the heap whenever the free space at its top exceeds twice that. A pass over a large circuit
frees and allocates tens to hundreds of MB of temporaries, so each pass can pay first-touch page
faults for them again (the kernel zeroes each 4 KB page: MNIST addition N = 2 scoring every sum
at batch 1024, 10.7 against 3.3 ms forward + backward; N = 4, whose (1024, 19,999) scores are
82 MB, 302 against 173 ms; docs/benchmarks.md, "Tiles of the batch, and freed memory kept for
reuse" and "The logic's cost per sum, sums of products as one node"). The ``nesy``
command sets this for its own process; a script calls :func:`reuse_freed_memory` once, at its
start.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4  # glibc's mallopt parameters

#: Free memory at the heap's top kept rather than returned to the OS: more than a training
#: step's temporaries (MNIST addition N = 4 scoring every sum at batch 1024 frees about 400 MB
#: of them each step).
TRIM_THRESHOLD = 1 << 30


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
    """Serve every block from glibc's heap, reused when freed (no block ``mmap``'d on its own)
    and keep up to :data:`TRIM_THRESHOLD` of free heap (process-wide); True if set, False where
    the process does not run on glibc (nothing changed)."""
    found = libc()
    if found is None:
        return False
    mmap = found.mallopt(M_MMAP_MAX, 0)
    trim = found.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    return bool(mmap and trim)
