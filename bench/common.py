"""Helpers shared by the benchmark scripts: machine description and SPS from TensorBoard wall times."""

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
    return (f"{os.cpu_count()} cores ({cpu}), {gpu}, Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def sps_after(run_dir: Path, tag: str, from_step: int) -> float:
    """Environment steps per wall-clock second between the first logged step >= from_step and the last."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    points = [(e.step, e.wall_time) for e in events.Scalars(tag) if e.step >= from_step]
    (step0, time0), (step1, time1) = points[0], points[-1]
    return (step1 - step0) / (time1 - time0)
