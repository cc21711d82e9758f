"""Helpers shared by the benchmark scripts: the machine's description and its CPU steal."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def machine() -> str:
    """One line naming the machine the figures come from."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    usable = len(os.sched_getaffinity(0))  # what a `taskset` leaves this process
    return (f"{usable} of {os.cpu_count()} cores ({cpu}), {gpu}, Python {platform.python_version()}, "
            f"torch {torch.__version__}")


class StealMeter:
    """Share of CPU time a hypervisor took from this VM ('steal' in /proc/stat) while the block ran.

    A shared VM can lose a third of its cores to other guests; a ratio taken under heavy steal
    is noise, so the benchmarks print this beside each figure. `share` is None off Linux.
    """

    def __enter__(self) -> StealMeter:
        self.share: float | None = None
        self._start = _cpu_jiffies()
        return self

    def __exit__(self, *exc: object) -> None:
        end = _cpu_jiffies()
        if self._start and end:
            total = sum(end) - sum(self._start)
            self.share = (end[7] - self._start[7]) / total if total > 0 else 0.0

    def __str__(self) -> str:
        return "steal n/a" if self.share is None else f"steal {self.share:.0%}"


def _cpu_jiffies() -> list[int]:
    """All-CPU counters from /proc/stat: user nice system idle iowait irq softirq steal ...; [] if unreadable."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return []
    return [int(x) for x in fields[1:9]] if fields[0] == "cpu" and len(fields) >= 9 else []
