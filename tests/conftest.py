"""Shared helpers: run the `rlkit` CLI in-process or as a subprocess, read TensorBoard scalars."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rlkit.vec import VecStep

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`rlkit ARGS` as a user would run it; returns the finished process (text output)."""
    # -P: never import the source folder `rlkit/` from the working directory in place of the install
    return subprocess.run([sys.executable, "-P", "-m", "rlkit.cli", *args], cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=timeout)


def evaluated(capsys: pytest.CaptureFixture, run: Path, *args: str) -> tuple[list[float], list[int]]:
    """`rlkit evaluate RUN ARGS` in-process: the returns and lengths of the episodes it printed."""
    from rlkit.cli import main

    assert main(["evaluate", str(run), *args]) == 0
    episodes = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("episode ")]
    # "episode 3/10: return 21, 1,804 steps"
    return [float(words[3].rstrip(",")) for words in episodes], [int(words[4].replace(",", "")) for words in episodes]


def assert_one_line_error(capsys: pytest.CaptureFixture, argv: list[str], message: str) -> None:
    """`rlkit ARGV` in-process exits 2 with exactly `message` as its one line on stderr, nothing on stdout."""
    from rlkit.cli import main

    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [message] and captured.out == ""


def help_text(capsys: pytest.CaptureFixture, command: str) -> str:
    """`rlkit COMMAND --help` in-process: exits 0; its text with whitespace runs made single spaces."""
    from rlkit.cli import main

    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) pairs of one TensorBoard tag across all event files in a run folder."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)] if tag in events.Tags()["scalars"] else []


def texts(run_dir: Path, tag: str) -> list[tuple[int, str]]:
    """(step, text) pairs of one TensorBoard text tag (`add_text`) across all event files in a run folder."""
    events = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    events.Reload()
    name = f"{tag}/text_summary"
    if name not in events.Tags()["tensors"]:
        return []
    return [(e.step, e.tensor_proto.string_val[0].decode()) for e in events.Tensors(name)]


@pytest.fixture
def root() -> Path:
    return ROOT


def assert_same_run_twice(tmp_path: Path, config: str, steps: int, network: str, *overrides: str) -> None:
    """Train on the CPU from one seed, then again from the first run's saved config.yaml alone;
    episodes and final weights must be identical."""
    def train(name: str, *args: str):
        result = run_cli("train", *args, "--run-dir", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
        state = torch.load(tmp_path / name / "checkpoints" / f"step_{steps:012d}.pt", weights_only=True)
        return scalars(tmp_path / name, "episode/return"), state["learner"][network]

    returns_a, weights_a = train("a", config, f"train.total_steps={steps}", "train.progress_bar=false", "device=cpu",
                                 *overrides)
    returns_b, weights_b = train("b", str(tmp_path / "a" / "config.yaml"))
    assert returns_a == returns_b and len(returns_a) > 10
    for key in weights_a:
        torch.testing.assert_close(weights_a[key], weights_b[key], rtol=0, atol=0)


def assert_identical(actual, expected, path="state"):
    """Nested checkpoint contents equal exactly (tensors bit for bit)."""
    if isinstance(expected, dict):
        assert actual.keys() == expected.keys(), path
        for key in expected:
            assert_identical(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, torch.Tensor):
        torch.testing.assert_close(actual, expected, rtol=0, atol=0, msg=path)
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_identical(a, e, f"{path}[{i}]")
    else:
        assert actual == expected, path


class EpisodeEndsEnv:
    """A rlkit.vec.VecEnv of 3 envs with known episode ends: env 0 terminates every 7th step, env 1 is
    truncated every 7th (both in the same step), env 2 terminates every 6th. Observations count the steps."""

    num_envs, frame_stack = 3, 1
    single_observation_space = gymnasium.spaces.Box(-1e6, 1e6, (2,), np.float32)
    single_action_space = gymnasium.spaces.Discrete(2)

    def __init__(self):
        self.t = np.zeros(3, dtype=np.int64)
        self.steps: list = []

    def reset(self, seed: int) -> np.ndarray:
        self.t[:] = 0
        return self._obs()

    def _obs(self) -> np.ndarray:
        return np.stack([self.t, np.arange(3)], axis=1).astype(np.float32)

    def send(self, actions: np.ndarray) -> None:
        self.t += 1

    def recv(self) -> VecStep:
        terminated = np.array([self.t[0] % 7 == 0, False, self.t[2] % 6 == 0])
        truncated = np.array([False, self.t[1] % 7 == 0, False])
        reset = terminated | truncated
        final_obs = self._obs()
        self.t[reset] = 0
        step = VecStep(obs=self._obs(), reward=np.ones(3, np.float32), terminated=terminated, truncated=truncated,
                       reset=reset, final_obs=final_obs)
        self.steps.append(step)
        return step

    def close(self) -> None:
        pass
