"""Process memory: a container's limit counts as the memory available, and freed blocks stay in the heap."""

import platform
import subprocess
import sys

import pytest

from rlkit.memory import cgroup_headroom

GIB = 2**30

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
# nothing handed back (the heap is as large as while the block was held) and the block is free in it
print(held.hblks - before.hblks, after.arena == held.arena and after.fordblks - held.fordblks >= size)
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="a glibc setting")
def test_a_freed_20_mib_block_stays_in_the_heap():
    out = subprocess.run([sys.executable, "-c", FREED_BLOCK], capture_output=True, text=True, check=True).stdout
    mapped_blocks, kept = out.split()
    assert mapped_blocks == "0"  # it came from the heap, not from a mapping of its own
    assert kept == "True"  # and is still there, free, after free()


def write_cgroup(folder, files: dict[str, object]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in files.items():
        (folder / name).write_text(f"{value}\n")


def test_a_containers_memory_limit_bounds_the_memory_available(tmp_path):
    """cgroup v2 and v1: the limit less the memory used, not counting inactive file cache."""
    proc = tmp_path / "cgroup"
    v2 = tmp_path / "v2"
    write_cgroup(v2, {"cgroup.controllers": "cpu memory"})
    write_cgroup(v2 / "job", {"memory.max": 8 * GIB, "memory.current": 3 * GIB,
                              "memory.stat": f"anon {2 * GIB}\ninactive_file {GIB}"})
    proc.write_text("0::/job\n")
    assert cgroup_headroom(proc, v2) == 6 * GIB
    write_cgroup(v2 / "job", {"memory.max": "max"})
    assert cgroup_headroom(proc, v2) is None  # no limit

    v1 = tmp_path / "v1" / "memory"  # the container's own cgroup, seen at the hierarchy's root
    write_cgroup(v1, {"memory.limit_in_bytes": 4 * GIB, "memory.usage_in_bytes": 3 * GIB,
                      "memory.stat": f"cache {2 * GIB}\ntotal_inactive_file {2 * GIB}"})
    proc.write_text("12:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/\n")
    assert cgroup_headroom(proc, v1.parent) == 3 * GIB
    write_cgroup(v1, {"memory.limit_in_bytes": 9223372036854771712})
    assert cgroup_headroom(proc, v1.parent) is None
    assert cgroup_headroom(tmp_path / "no-such-file", v1.parent) is None


def test_a_limit_on_a_parent_cgroup_bounds_the_memory_available(tmp_path):
    """Slurm and systemd put the limit on the job's cgroup and run the process in one below it."""
    proc, v2 = tmp_path / "cgroup", tmp_path / "v2"
    write_cgroup(v2, {"cgroup.controllers": "cpu memory"})
    write_cgroup(v2 / "job_1", {"memory.max": 2 * GIB, "memory.current": GIB, "memory.stat": "inactive_file 0"})
    write_cgroup(v2 / "job_1" / "step_0" / "task_0", {"memory.max": "max", "memory.current": GIB // 2,
                                                      "memory.stat": "inactive_file 0"})
    proc.write_text("0::/job_1/step_0/task_0\n")
    assert cgroup_headroom(proc, v2) == GIB
    write_cgroup(v2 / "job_1" / "step_0", {"memory.max": GIB, "memory.current": GIB // 2,
                                           "memory.stat": "inactive_file 0"})
    assert cgroup_headroom(proc, v2) == GIB // 2  # the least headroom on the way up


def test_memory_that_cannot_be_read_is_not_checked(monkeypatch):
    """macOS has neither /proc/meminfo nor SC_AVPHYS_PAGES: training starts unchecked, not with a traceback."""
    import builtins

    import rlkit.memory

    real_open = builtins.open

    def no_proc(path, *args, **kwargs):
        if str(path).startswith("/proc/"):
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    def no_such_name(name):
        raise ValueError("unrecognized configuration name")

    monkeypatch.setattr(builtins, "open", no_proc)
    monkeypatch.setattr(rlkit.memory.os, "sysconf", no_such_name)
    monkeypatch.setattr(rlkit.memory, "cgroup_headroom", lambda: None)
    assert rlkit.memory.available_memory() is None
    rlkit.memory.require_memory(2**60, "a buffer", "agent.buffer_size")  # no figure, no refusal


def meminfo(monkeypatch, headroom):
    """/proc/meminfo reads 2048 kB available; the cgroups leave `headroom` bytes (None: no limit)."""
    import builtins
    import io

    import rlkit.memory

    real_open = builtins.open

    def fake_proc(path, *args, **kwargs):
        if str(path) == "/proc/meminfo":
            return io.StringIO("MemTotal:       8192 kB\nMemFree:        1024 kB\nMemAvailable:   2048 kB\n")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_proc)
    monkeypatch.setattr(rlkit.memory, "cgroup_headroom", lambda: headroom)
    return rlkit.memory.available_memory()


def test_meminfo_counts_kibibytes(monkeypatch):
    """MemAvailable: 2048 kB is 2 MiB (a figure 1024 times too small refused runs that fit)."""
    assert meminfo(monkeypatch, None) == 2 * 2**20


def test_the_least_of_meminfo_and_the_cgroup_headroom_is_available(monkeypatch):
    """A container sees the host's MemAvailable: its own smaller limit wins, and a larger one changes nothing."""
    assert meminfo(monkeypatch, 2**20) == 2**20
    assert meminfo(monkeypatch, 3 * 2**20) == 2 * 2**20


def test_a_cgroup_using_more_than_its_limit_has_no_headroom(tmp_path):
    """A limit lowered below the memory in use (the kernel reclaiming): no memory is left, not a negative amount."""
    proc, v2 = tmp_path / "cgroup", tmp_path / "v2"
    write_cgroup(v2, {"cgroup.controllers": "cpu memory"})
    write_cgroup(v2 / "job", {"memory.max": GIB, "memory.current": 2 * GIB, "memory.stat": "inactive_file 0"})
    proc.write_text("0::/job\n")
    assert cgroup_headroom(proc, v2) == 0
