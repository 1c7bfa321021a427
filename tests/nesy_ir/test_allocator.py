"""Freed memory kept for reuse: blocks the size of a large circuit's temporaries come from
glibc's heap, not from a fresh mmap whose pages fault in on first touch."""

import subprocess
import sys
import textwrap

import pytest

from nesy_ir.allocator import libc

#: In a fresh process: the bytes glibc holds in mmap'd blocks while a block of the given MB is
#: allocated.
PROBE = textwrap.dedent(
    """
    import ctypes, sys
    from nesy_ir.allocator import libc, reuse_freed_memory

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    glibc = libc()
    glibc.malloc.restype, glibc.mallinfo2.restype = ctypes.c_void_p, MallInfo2
    glibc.free.argtypes = [ctypes.c_void_p]
    if sys.argv[1] == "reuse":
        assert reuse_freed_memory()
    before = glibc.mallinfo2().hblkhd
    block = glibc.malloc(int(sys.argv[2]) << 20)
    print(glibc.mallinfo2().hblkhd - before)
    glibc.free(block)
    """
)


def _mapped(mode: str, mb: int) -> int:
    command = [sys.executable, "-c", PROBE, mode, str(mb)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


@pytest.mark.skipif(
    libc() is None or not hasattr(libc(), "mallinfo2"), reason="needs glibc 2.33 or later"
)
@pytest.mark.parametrize("mb", [8, 96])  # beyond 32 MB, glibc's own threshold never adapts
def test_a_large_block_comes_from_the_heap_once_freed_memory_is_reused(mb):
    assert _mapped("default", mb) >= mb << 20  # glibc's default: mmap'd, returned when freed
    assert _mapped("reuse", mb) == 0
