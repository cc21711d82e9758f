"""Process memory: refuse an allocation that would not fit, and keep freed blocks for reuse."""

from __future__ import annotations

import ctypes
import os
import platform
from pathlib import Path

from rlkit.errors import UserError


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation: Linux MemAvailable (elsewhere the free pages
    the system reports), or less where this process's cgroups leave less; None where no figure can
    be read."""
    available = None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except OSError:
        pass
    if available is None:
        try:
            available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
        except (ValueError, OSError, AttributeError):  # macOS has no SC_AVPHYS_PAGES
            pass
    headroom = cgroup_headroom()
    known = [figure for figure in (available, headroom) if figure is not None]
    return min(known) if known else None


def cgroup_headroom(proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Bytes this process's memory cgroups may still take: the least, over its cgroup and the ones
    above it (a Slurm job or a systemd slice limits the parent), of limit less use, not counting
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
            top, files = root, ("memory.max", "memory.current", "inactive_file")
        elif "memory" in controllers.split(","):  # cgroup v1
            top, files = root / "memory", ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
        else:
            continue
        # from the process's own cgroup up to the hierarchy's root, where a container sees its own
        leaf = top / path.lstrip("/")
        folders = [folder for folder in (leaf, *leaf.parents) if folder == top or top in folder.parents]
        headrooms = [room for folder in folders if (room := _headroom(folder, files)) is not None]
        return min(headrooms) if headrooms else None
    return None


def _headroom(folder: Path, files: tuple[str, str, str]) -> int | None:
    """One cgroup's limit less its use (inactive file cache not counted); None without a limit."""
    try:
        limit_text = (folder / files[0]).read_text().strip()
        used = int((folder / files[1]).read_text())
        stat = dict(entry.split() for entry in (folder / "memory.stat").read_text().splitlines())
        limit = None if limit_text == "max" else int(limit_text)
    except (OSError, ValueError):
        return None
    if limit is None or limit >= 2**60:  # no limit
        return None
    return max(0, limit - (used - int(stat.get(files[2], 0))))


def require_memory(need: int, what: str, keys: str) -> None:
    """Raise UserError if `need` bytes for `what` exceed the memory available now. Linux lends
    memory it does not have (overcommit), so without this a run too big would die hours in."""
    have = available_memory()
    if have is not None and need > have:
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
