"""The logger: perf/sps counts training time only, and the bar shows the values of its latest step."""

import time

from rlkit.logger import Logger


def test_sps_and_the_bar_count_from_the_start_of_training_and_show_the_latest_values(tmp_path, capsys,
                                                                                      monkeypatch):
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


def test_a_note_follows_the_figures_while_given(tmp_path, capsys):
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
