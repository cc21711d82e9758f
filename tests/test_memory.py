"""keep_freed_memory: blocks a training step frees stay in the heap for the next step instead of going back to the OS."""

import platform
import subprocess
import sys

import pytest

# A fresh process: glibc's default maps a 20 MiB block on its own (mmap) and unmaps it when freed,
# so the next step's block is faulted in page by page again.
FREED_BLOCK = """
import ctypes
from rlkit.memory import keep_freed_memory

class MallInfo(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo
libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]
assert keep_freed_memory()
size = 20 * 2**20
before = libc.mallinfo2()
block = libc.malloc(size)
ctypes.memset(block, 1, size)
held = libc.mallinfo2()
libc.free(block)
after = libc.mallinfo2()
print(held.hblks - before.hblks, after.fordblks - before.fordblks >= size)
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="a glibc setting")
def test_a_freed_20_mib_block_stays_in_the_heap():
    out = subprocess.run([sys.executable, "-c", FREED_BLOCK], capture_output=True, text=True, check=True).stdout
    mapped_blocks, kept = out.split()
    assert mapped_blocks == "0"  # it came from the heap, not from a mapping of its own
    assert kept == "True"  # and is still there, free, after free()
