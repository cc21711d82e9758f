"""Refuse to start an allocation that would not fit in memory, with a line naming the keys to change."""

from __future__ import annotations

import os

from rlkit.errors import UserError


def available_memory() -> int:
    """Bytes of memory available to a new allocation (Linux MemAvailable)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def require_memory(need: int, what: str, keys: str) -> None:
    """Raise UserError if `need` bytes for `what` exceed the memory available now. Linux lends
    memory it does not have (overcommit), so without this a run too big would die hours in."""
    have = available_memory()
    if need > have:
        raise UserError(f"{keys}: {what} needs {need / 2**30:.1f} GiB but only {have / 2**30:.1f} GiB of "
                        f"memory is available; lower {keys}")
