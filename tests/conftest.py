"""Shared helpers: run the `rlkit` CLI in-process or as a subprocess, read TensorBoard scalars."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`rlkit ARGS` as a user would run it; returns the finished process (text output)."""
    # -P: never import the source folder `rlkit/` from the working directory in place of the install
    return subprocess.run([sys.executable, "-P", "-m", "rlkit.cli", *args], cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=timeout)


def scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) pairs of one TensorBoard tag across all event files in a run folder."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)] if tag in events.Tags()["scalars"] else []


@pytest.fixture
def root() -> Path:
    return ROOT
