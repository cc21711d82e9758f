"""TensorBoard scalars plus console progress (steps, SPS, recent return, ETA): a bar on a terminal,
a plain line a minute where the output goes to a file (a bar there is a stream of carriage returns)."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams
from tqdm import tqdm

from rlkit.console import say


def _flatten(data: dict, prefix: str = "") -> dict:
    """Nested config dict -> {'agent.lr': 1e-4, ...} with TensorBoard-friendly values."""
    flat = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, (int, float, str, bool)):
            flat[prefix + key] = value
        else:
            flat[prefix + key] = str(value)
    return flat


LINE_SECONDS = 60.0  # how often progress is printed as a line when there is no bar


def console_is_terminal() -> bool:
    """Whether stderr, where the bar draws, is a terminal (not a file, a pipe or a scheduler's log)
    that gives its size: on one of 0 rows or columns (a pty that `script` or `docker run -t` opens
    without a terminal of their own) tqdm draws nothing at all, so lines are printed there instead."""
    if not sys.stderr.isatty():
        return False
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except OSError:
        return False
    return size.lines > 0 and size.columns > 0


def clock_text(seconds: float) -> str:
    """H:MM:SS, as the bar shows times."""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


class Logger:
    """Writes scalars to RUN_DIR (TensorBoard) and drives the progress bar.

    On resume, events written after the checkpoint at `start_step` (steps > start_step) are
    purged, so curves continue without duplicated steps.
    """

    def __init__(self, run_dir: Path, total_steps: int, start_step: int, show_progress: bool = True,
                 heading: str = ""):
        # TensorBoard's writer thread re-raises its OSError (a full disk) in the main thread at the
        # next write, where the run stops in one line; the thread's own traceback is left unprinted
        self._thread_hook = threading.excepthook
        threading.excepthook = self._skip_writer_thread_os_errors
        try:
            self.writer = SummaryWriter(str(run_dir), purge_step=start_step + 1 if start_step > 0 else None)
        except BaseException:
            threading.excepthook = self._thread_hook
            raise
        self.returns: deque[float] = deque(maxlen=20)
        # The bar appears with the first progress() call, so an error found while the agent sets
        # up (a checkpoint that does not fit) stays the only line on the console; so does `heading`,
        # printed when training starts. Without a bar, progress() prints a line every LINE_SECONDS.
        self.bar: tqdm | None = None
        self._total, self._heading = total_steps, heading
        self._use_bar = show_progress and console_is_terminal()
        self._start_step, self._started = start_step, time.time()  # the bar's elapsed time and rate count from here
        self._last_step, self._last_time = start_step, time.perf_counter()
        self._last_line, self._last_line_step = self._started, start_step  # the last progress line printed
        self.sps = 0.0
        self._phase_totals: dict[str, float] = {}
        self.training = False  # set up so far; True once start_clock() says the loop began

    def start_clock(self) -> None:
        """Training starts now: perf/sps and the bar's rate and ETA count from here, not from the
        set-up before it (networks, a restored checkpoint, a replay of gigabytes loaded)."""
        self._started, self._last_time = time.time(), time.perf_counter()
        self._last_line = self._started
        self.training = True
        if self._heading:
            say(self._heading)

    def hyperparameters(self, config: dict) -> None:
        """Record the resolved config as TensorBoard hparams and as text."""
        flat = _flatten(config)
        for summary in hparams(flat, {"episode/return": 0.0}):
            self.writer.file_writer.add_summary(summary)
        self.writer.add_text("config", "\n".join(f"    {k}: {v}" for k, v in flat.items()))

    def resumed(self, overrides: list[str], step: int) -> None:
        """Record a resume's overrides as config text at the step it continued from (the hparams
        stay those the run started with: TensorBoard keeps one set per run)."""
        self.writer.add_text("config", "resumed with:\n" + "\n".join(f"    {o}" for o in overrides), step)

    def scalar(self, tag: str, value: float, step: int) -> None:
        """One TensorBoard scalar."""
        self.writer.add_scalar(tag, value, step)

    def phases(self, totals: dict[str, float], step: int) -> None:
        """Log perf/PHASE_seconds: the seconds spent in each phase (act, env, learn) since the
        previous call, from running totals, so users see where the time goes."""
        for phase, total in totals.items():
            self.writer.add_scalar(f"perf/{phase}_seconds", total - self._phase_totals.get(phase, 0.0), step)
        self._phase_totals = dict(totals)

    def episodes(self, returns: list[float], lengths: list[int], step: int, ended: np.ndarray | None = None) -> None:
        """Log whole finished episodes (true game score). `ended` (the vector step's `reset` mask) puts
        each at its own env's step: the vector step that reached `step` covers its last N env steps, env i
        the i-th, and TensorBoard shows one point per step, so episodes that ended together would hide all
        but one (Pendulum's 4 envs end theirs together: 3 in 4 were hidden)."""
        if not returns:  # most vector steps: nothing to do, and nothing to spend on it
            return
        steps = [step] * len(returns) if ended is None else step - len(ended) + 1 + np.flatnonzero(ended)
        for ret, length, at in zip(returns, lengths, steps):
            self.writer.add_scalar("episode/return", ret, int(at))
            self.writer.add_scalar("episode/length", length, int(at))
            self.returns.append(ret)

    def progress(self, step: int, note: str = "") -> None:
        """Show progress at `step` (the bar, or a line); log perf/sps. `note` follows the figures
        (DQN's replay filling up: steps run faster before learning starts, so the ETA is too soon)."""
        now = time.perf_counter()
        if now > self._last_time and step > self._last_step:
            self.sps = (step - self._last_step) / (now - self._last_time)
            self.writer.add_scalar("perf/sps", self.sps, step)
        self._last_step, self._last_time = step, now
        recent = "-" if (mean := self.recent_return()) is None else f"{mean:.1f}"
        if not self._use_bar:
            self._print_line(step, recent, note)
            return
        if self.bar is None:
            self.bar = tqdm(total=self._total, initial=self._start_step, unit="step", dynamic_ncols=True,
                            smoothing=0.05)
            self.bar.start_t = self.bar.last_print_t = self._started
        self.bar.total = max(self._total, step)  # PPO ends on a whole rollout, past the budget: stay at 100%
        postfix = f"sps={self.sps:.0f} return={recent}" + (f" {note}" if note else "")
        self.bar.set_postfix_str(postfix, refresh=False)  # drawn by update()
        self.bar.update(step - self.bar.n)

    def _print_line(self, step: int, recent: str, note: str) -> None:
        """The bar's figures as one line, at most every LINE_SECONDS (and at the run's last step)."""
        now = time.time()
        if (now - self._last_line < LINE_SECONDS and step < self._total) or step == self._last_line_step:
            return
        self._last_line, self._last_line_step = now, step
        elapsed, done = now - self._started, step - self._start_step
        total = max(self._total, step)  # PPO ends on a whole rollout, past the budget
        left = total - step
        eta = f", ETA {clock_text(left * elapsed / done)}" if done > 0 and left else ""
        say(f"step {step:,} of {total:,} ({100 * step / total:.0f}%), {self.sps:.0f} steps/s, "
            f"return {recent}, {clock_text(elapsed)} elapsed{eta}" + (f" ({note})" if note else ""))

    def recent_return(self) -> float | None:
        """Mean of the last 20 episode returns, or None before any finished."""
        return float(np.mean(self.returns)) if self.returns else None

    def close(self) -> None:
        """Flush events and close the bar."""
        if self.bar is not None:
            self.bar.close()
        try:
            self.writer.close()
        finally:
            threading.excepthook = self._thread_hook

    def _skip_writer_thread_os_errors(self, args: threading.ExceptHookArgs) -> None:
        if issubclass(args.exc_type, OSError) and type(args.thread).__name__ == "_AsyncWriterThread":
            return
        self._thread_hook(args)
