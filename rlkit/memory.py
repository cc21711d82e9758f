"""Process memory: refuse an allocation that would not fit, and keep freed blocks for reuse."""

from __future__ import annotations

import ctypes
import os
import platform
from pathlib import Path

from rlkit.errors import UserError


def available_memory() -> int:
    """Bytes of memory available to a new allocation: Linux MemAvailable, or less where this
    process's cgroup (a container's memory limit) leaves less."""
    available = None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except OSError:
        pass
    if available is None:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    headroom = cgroup_headroom()
    return available if headroom is None else min(available, headroom)


def cgroup_headroom(proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Bytes this process's memory cgroup may still take: its limit less what it uses, not counting
    inactive file cache (the kernel reclaims that first, as `docker stats` counts it); None without
    a limit. Inside a container /proc/meminfo shows the host's memory, not the container's."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.count(":") < 2:
            continue
        _, controllers, path = line.split(":", 2)
        if controllers == "" and (root / "cgroup.controllers").exists():  # cgroup v2 (unified)
            folders, files = [root / path.lstrip("/"), root], ("memory.max", "memory.current", "inactive_file")
        elif "memory" in controllers.split(","):  # cgroup v1
            folders = [root / "memory" / path.lstrip("/"), root / "memory"]
            files = ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
        else:
            continue
        for folder in folders:  # a container sees its own cgroup at the hierarchy's root
            try:
                limit_text = (folder / files[0]).read_text().strip()
                used = int((folder / files[1]).read_text())
                stat = dict(entry.split() for entry in (folder / "memory.stat").read_text().splitlines())
            except (OSError, ValueError):
                continue
            if limit_text == "max" or int(limit_text) >= 2**60:  # no limit
                return None
            return max(0, int(limit_text) - (used - int(stat.get(files[2], 0))))
    return None


def require_memory(need: int, what: str, keys: str) -> None:
    """Raise UserError if `need` bytes for `what` exceed the memory available now. Linux lends
    memory it does not have (overcommit), so without this a run too big would die hours in."""
    have = available_memory()
    if need > have:
        raise UserError(f"{keys}: {what} needs {need / 2**30:.1f} GiB but only {have / 2**30:.1f} GiB of "
                        f"memory is available; lower {keys}")


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 2**20  # the largest glibc accepts (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 2**30


def keep_freed_memory() -> bool:
    """Have glibc's malloc keep freed blocks under 32 MiB for reuse instead of giving them back to the
    OS; returns whether it applied (glibc only). By default each new activation or gradient buffer
    of a training step is fresh memory from the kernel, faulted in and zeroed page by page: 84k
    minor faults (0.25 s of kernel time) per PPO update on Pong, which took 2.82 s instead of 2.30 s
    (medians, 2-core VM, bench/RESULTS.md). A training process reuses its peak every step anyway."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own symbols: libc is among them
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
