"""The logger: perf/sps counts training time only, and the bar shows the values of its latest step."""

import time

from rlkit.logger import Logger


def test_sps_and_the_bar_count_from_the_start_of_training_and_show_the_latest_values(tmp_path, capsys):
    logger = Logger(tmp_path, total_steps=1000, start_step=0)
    time.sleep(0.5)  # set-up: building networks, loading a checkpoint and its replay
    logger.start_clock()
    logger.progress(100)
    assert logger.sps > 400  # 100 steps right after the clock started; over the half second before it, 200
    logger.episodes([7.0], [50], 100)
    time.sleep(0.2)  # past tqdm's shortest redraw interval
    logger.progress(200)
    logger.close()
    last = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert f"sps={logger.sps:.0f} return=7.0" in last, last  # the bar drew the step's own figures
