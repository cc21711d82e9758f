"""The logger: perf/sps counts training time only; the bar (on a terminal) or a line a minute
(anywhere else) shows the values of its latest step."""

import os
import time

import numpy as np
import pytest

from rlkit.logger import Logger


@pytest.fixture
def terminal(monkeypatch):
    """stderr taken for a terminal, so the logger draws its bar (capsys's own stream is not one)."""
    monkeypatch.setattr("rlkit.logger.console_is_terminal", lambda: True)


def test_sps_and_the_bar_count_from_the_start_of_training_and_show_the_latest_values(tmp_path, capsys,
                                                                                      monkeypatch, terminal):
    import rlkit.logger

    clock = [1000.0]  # perf/sps reads this clock; the bar's redraws still follow real time
    monkeypatch.setattr(rlkit.logger.time, "perf_counter", lambda: clock[0])
    logger = Logger(tmp_path, total_steps=1000, start_step=0)
    clock[0] += 5.0  # set-up: building networks, loading a checkpoint and its replay
    logger.start_clock()
    clock[0] += 0.25
    logger.progress(100)
    assert logger.sps == 400  # 100 steps in the 0.25 s since the clock started, not in 5.25 s
    logger.episodes([7.0], [50], 100)
    clock[0] += 0.5
    time.sleep(0.2)  # past tqdm's shortest redraw interval
    logger.progress(200)
    logger.close()
    last = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "sps=200 return=7.0" in last, last  # the bar drew the step's own figures (100 steps in 0.5 s)


def test_a_note_follows_the_figures_while_given(tmp_path, capsys, terminal):
    """DQN says its replay is still filling (the ETA then is too soon), and stops saying so."""
    logger = Logger(tmp_path, total_steps=1000, start_step=0)
    logger.start_clock()
    lines = []
    for step, note in ((100, "no learning yet, ETA optimistic"), (200, "")):
        time.sleep(0.2)  # past tqdm's shortest redraw interval
        logger.progress(step, note)
        lines.append(capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1])
    logger.close()
    assert "return=- no learning yet, ETA optimistic" in lines[0], lines[0]
    assert "no learning yet" not in lines[1], lines[1]


def test_without_a_terminal_progress_is_a_line_a_minute_and_at_the_end(tmp_path, capsys, monkeypatch):
    """Under nohup or a scheduler the bar would fill the log with carriage returns; lines go to stdout."""
    import rlkit.logger

    wall = [5000.0]
    monkeypatch.setattr(rlkit.logger.time, "time", lambda: wall[0])
    logger = Logger(tmp_path, total_steps=1000, start_step=200, heading="resuming runs/x on cpu at step 200")
    logger.start_clock()
    logger.episodes([3.0, 5.0], [10, 12], 250)
    for step, seconds in ((300, 30.0), (400, 31.0), (500, 1.0), (1000, 10.0), (1000, 0.0)):
        wall[0] += seconds
        logger.progress(step, "a note" if step == 500 else "")
    logger.close()
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == "resuming runs/x on cpu at step 200" and captured.err == ""
    assert lines[1].startswith("step 400 of 1,000 (40%), ") and lines[1].endswith(
        "steps/s, return 4.0, 0:01:01 elapsed, ETA 0:03:03")  # 200 steps in 61 s, 600 to go
    assert lines[2].startswith("step 1,000 of 1,000 (100%), ") and "ETA" not in lines[2]
    assert len(lines) == 3  # at 300 too soon; at 500 too soon; the final step once


def test_a_resumed_logger_drops_the_steps_logged_after_its_checkpoint(tmp_path):
    """A crash after step 10's checkpoint left steps 11-20 logged; the resumed run logs them again, once."""
    from conftest import scalars

    first = Logger(tmp_path, total_steps=30, start_step=0, show_progress=False)
    for step in range(1, 21):
        first.scalar("train/loss", float(step), step)
    first.close()
    resumed = Logger(tmp_path, total_steps=30, start_step=10, show_progress=False)
    for step in range(11, 31):
        resumed.scalar("train/loss", 100.0 + step, step)
    resumed.close()
    logged = scalars(tmp_path, "train/loss")
    assert [step for step, _ in logged] == list(range(1, 31))
    assert [value for _, value in logged] == [float(s) for s in range(1, 11)] + [100.0 + s for s in range(11, 31)]


def test_episodes_that_end_in_one_vector_step_are_each_at_their_own_envs_step(tmp_path):
    """TensorBoard shows one point per step and tag: episodes that ended in the same vector step would hide
    all but one. The 4-env vector step that reached step 400 covers env steps 397-400, env i the i-th."""
    from conftest import scalars

    logger = Logger(tmp_path, total_steps=1000, start_step=0, show_progress=False)
    logger.episodes([-150.0, -170.0], [200, 190], 400, np.array([True, False, False, True]))
    logger.episodes([], [], 404, np.array([False] * 4))
    logger.episodes([1.0, 2.0, 3.0, 4.0], [5, 6, 7, 8], 800, np.array([True] * 4))
    logger.close()
    assert scalars(tmp_path, "episode/return") == [(397, -150.0), (400, -170.0), (797, 1.0), (798, 2.0),
                                                   (799, 3.0), (800, 4.0)]
    assert scalars(tmp_path, "episode/length") == [(397, 200), (400, 190), (797, 5), (798, 6), (799, 7), (800, 8)]

def test_phase_seconds_are_the_time_since_the_previous_log_point(tmp_path):
    """Agents pass running totals; perf/PHASE_seconds logs each interval's share, not the total so far."""
    from conftest import scalars

    logger = Logger(tmp_path, total_steps=100, start_step=0, show_progress=False)
    logger.phases({"act": 1.0, "learn": 2.0}, 10)
    logger.phases({"act": 3.5, "learn": 2.0}, 20)
    logger.phases({"act": 4.0, "learn": 6.25}, 30)
    logger.close()
    assert scalars(tmp_path, "perf/act_seconds") == [(10, 1.0), (20, 2.5), (30, 0.5)]
    assert scalars(tmp_path, "perf/learn_seconds") == [(10, 2.0), (20, 0.0), (30, 4.25)]


def test_the_recent_return_is_the_mean_of_the_last_20_episodes(tmp_path):
    """What the bar and the lines show as `return`: none before an episode ends, then a 20-episode window."""
    logger = Logger(tmp_path, total_steps=100, start_step=0, show_progress=False)
    assert logger.recent_return() is None
    logger.episodes([float(r) for r in range(25)], [1] * 25, 5)
    logger.close()
    assert logger.recent_return() == 14.5  # the mean of 5..24


@pytest.mark.parametrize("rows, columns, bar", [(24, 80, True), (0, 80, False), (24, 0, False)])
def test_a_terminal_of_no_size_gets_lines_as_tqdm_draws_nothing_there(monkeypatch, rows, columns, bar):
    """A pty of 0 rows (`script`, `docker run -t` from a non-terminal) showed no progress at all:
    tqdm's bar hides itself past the last row, and no line was printed instead."""
    import fcntl
    import io
    import pty
    import struct
    import termios

    import rlkit.logger

    controller, terminal = pty.openpty()
    try:
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        with io.open(terminal, "w", closefd=False) as stderr:
            monkeypatch.setattr("sys.stderr", stderr)
            assert rlkit.logger.console_is_terminal() is bar
    finally:
        os.close(controller)
        os.close(terminal)


def test_a_terminal_whose_size_cannot_be_read_gets_lines(monkeypatch):
    """A stderr that is a tty but will not give its size is treated as one of no size: lines, not a bar."""
    import rlkit.logger

    class Tty:
        def isatty(self) -> bool:
            return True

        def fileno(self) -> int:
            return 2

    def no_size(fd: int) -> os.terminal_size:
        raise OSError(25, "Inappropriate ioctl for device")

    monkeypatch.setattr("sys.stderr", Tty())
    monkeypatch.setattr("os.get_terminal_size", no_size)
    assert rlkit.logger.console_is_terminal() is False
