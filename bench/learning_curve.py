"""Print a run's learning curve as a Markdown table: episode returns binned by environment step.

Reads every TensorBoard file in the run folder (one per start or resume).

    python bench/learning_curve.py runs/pong-dqn-long [--bin 100000] [--tag episode/return]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def episodes(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of every logged episode, over all event files in step order (TensorBoard
    itself drops events that a resumed run re-lived after a crash)."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)] if tag in events.Tags()["scalars"] else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--bin", type=int, default=100_000, help="steps per row")
    parser.add_argument("--tag", default="episode/return")
    args = parser.parse_args()
    if not args.run_dir.is_dir():
        parser.error(f"{args.run_dir}: no such run folder")
    points = episodes(args.run_dir, args.tag)
    if not points:
        raise SystemExit(f"{args.run_dir}: no '{args.tag}' events")
    steps = np.array([p[0] for p in points])
    values = np.array([p[1] for p in points])
    print("| steps up to | episodes | mean return | best |\n|---:|---:|---:|---:|")
    for start in range(0, int(steps.max()) + 1, args.bin):
        inside = (steps > start) & (steps <= start + args.bin)
        if inside.any():
            end = min(start + args.bin, int(steps.max()))  # the last row ends at the last episode
            print(f"| {end:,} | {inside.sum()} | {values[inside].mean():.1f} | {values[inside].max():.0f} |")


if __name__ == "__main__":
    main()
