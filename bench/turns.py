"""Two trainers in two processes that take turns on the CPU, a block of env steps at a time.

On a shared VM the speed drifts by a fifth over minutes, so timing one trainer after the other
lets the drift pick the ratio. Here both train at once, but only the side holding the turn runs:
it steps `block` env steps, then hands over and waits. Each timed block of one side runs right
beside one of the other side's, so a drift hits both alike. Setup and warm-up are not timed.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Turns:
    """The turn shared by sides 0 and 1; a side that has finished never holds the other up."""

    def __init__(self, context: Any):
        self._changed = context.Condition()
        self._turn = context.Value("i", 0, lock=False)
        self._finished = context.Array("i", 2, lock=False)

    def wait(self, side: int) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._turn.value == side or self._finished[1 - side])

    def wait_for_other(self, side: int) -> None:
        """Block until the other side has finished too (its process's teardown must not overlap
        the other side's timed blocks: exiting torch, numba and the emulators costs a second of CPU)."""
        with self._changed:
            self._changed.wait_for(lambda: self._finished[1 - side])

    def hand_over(self, side: int, finished: bool = False) -> None:
        with self._changed:
            self._finished[side] = int(finished or self._finished[side])
            self._turn.value = 1 - side
            self._changed.notify_all()


class BlockClock:
    """Told the env step count after every step: takes turns every `block` steps, and times the
    blocks that start at `timed_from` or later, up to `until` steps. The side's setup runs beside
    the other's first, untimed block; its teardown runs while it still holds the turn."""

    def __init__(self, turns: Turns, side: int, block: int, timed_from: int, until: int):
        self.turns, self.side, self.block, self.timed_from, self.until = turns, side, block, timed_from, until
        self.blocks: list[tuple[int, float]] = []  # (env steps, seconds) of each timed block
        self._holding = False
        self._done = False

    def step(self, steps: int) -> None:
        if self._done:
            return
        if not self._holding:  # the side's first step: its setup ran untimed, beside the other's warm-up
            self._take(steps)
            return
        if steps >= self.until:  # keeps the turn through its teardown, so that overlaps nothing timed
            self._close(steps)
            self._done = True
        elif steps >= self._next:
            self._close(steps)
            self.turns.hand_over(self.side)
            self._take(steps)

    def _take(self, steps: int) -> None:
        self.turns.wait(self.side)
        self._holding = True
        self._start_step, self._start = steps, time.perf_counter()
        self._next = (steps // self.block + 1) * self.block

    def _close(self, steps: int) -> None:
        if self._start_step >= self.timed_from and steps > self._start_step:
            self.blocks.append((steps - self._start_step, time.perf_counter() - self._start))


Trainer = Callable[[BlockClock], Any]


def clock_rlkit_steps(clock: BlockClock) -> None:
    """Make rlkit's rollout engine tell `clock` of every env step (in this process only)."""
    from rlkit.rollout import Rollout

    receive, steps = Rollout.recv, 0

    def counted_recv(self: Rollout):
        nonlocal steps
        transition = receive(self)
        steps += self.num_envs
        clock.step(steps)
        return transition

    Rollout.recv = counted_recv


def train_rlkit(clock: BlockClock, config_name: str, overrides: list[str], folder: Path) -> Path:
    """Train rlkit from configs/CONFIG_NAME with `overrides` in this process, telling `clock` of every
    env step; returns the run folder, made inside `folder`."""
    from rlkit.config import agent_module, load_config
    from rlkit.run import Run

    clock_rlkit_steps(clock)
    config_path = Path(__file__).resolve().parents[1] / "configs" / config_name
    config = load_config(config_path, overrides)
    run = Run.create(config, folder / "run", config_path)
    try:
        agent_module(config.algo).train(run)
    finally:
        run.finish()
    return run.dir


def _side(train: Trainer, clock: BlockClock, results: Any) -> None:
    extra = None
    try:
        extra = train(clock)
    finally:
        clock.turns.hand_over(clock.side, finished=True)  # also after an error: never leave the other waiting
        clock.turns.wait_for_other(clock.side)  # idle, not exiting, while the other side still times blocks
        results.put((clock.side, (clock.blocks, extra)))


def take_turns(trainers: tuple[Trainer, Trainer], block: int, timed_from: int, until: int
               ) -> list[tuple[list[tuple[int, float]], Any]]:
    """Run two trainers in turns; each must call `clock.step(env_steps)` after every env step.
    Returns, per side, its timed blocks as (env steps, seconds) and what its trainer returned."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no torch state shared by fork
    turns, results = Turns(context), context.Queue()
    processes = [context.Process(target=_side, args=(train, BlockClock(turns, side, block, timed_from, until),
                                                     results))
                 for side, train in enumerate(trainers)]
    for process in processes:
        process.start()
    outcomes = dict(results.get() for _ in processes)
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a benchmark side exited with status {process.exitcode}")
    sizes = [[steps for steps, _ in outcomes[side][0]] for side in (0, 1)]
    if not sizes[0] or sizes[0] != sizes[1]:  # a side that stopped early would be compared over other windows
        raise SystemExit(f"the two sides timed different blocks: {len(sizes[0])} and {len(sizes[1])}")
    return [outcomes[0], outcomes[1]]


def steps_per_second(blocks: list[tuple[int, float]]) -> float:
    """Env steps per second over all timed blocks."""
    return sum(steps for steps, _ in blocks) / sum(seconds for _, seconds in blocks)


def paired_ratio(ours: list[tuple[int, float]], theirs: list[tuple[int, float]]) -> float:
    """Median over block pairs of our speed over theirs: each pair ran back to back."""
    return statistics.median(steps_per_second([mine]) / steps_per_second([other]) for mine, other in zip(ours, theirs))
