"""Config loading and the CLI's answers to bad input: one line naming the file and key, exit 2."""

from pathlib import Path

import pytest
import torch

from conftest import run_cli
from rlkit.config import load_config
from rlkit.errors import UserError

CARTPOLE = "configs/cartpole_dqn.yaml"


def test_yaml_and_dotted_overrides_are_typed(root):
    config = load_config(root / CARTPOLE, ["agent.lr=1e-4", "train.total_steps=5e3", "seed=7", "agent.double=true"])
    assert config.agent.lr == pytest.approx(1e-4) and isinstance(config.agent.lr, float)
    assert config.train.total_steps == 5000 and isinstance(config.train.total_steps, int)
    assert config.seed == 7 and config.agent.double is True


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).parents[1] / "configs").glob("*.yaml")))
def test_every_shipped_config_loads(root, name):
    from rlkit.envs import check_env_id

    config = load_config(root / "configs" / name)
    check_env_id(config.env)  # the game or gymnasium id exists here
    assert config.train.total_steps > 0


@pytest.mark.parametrize("override, message", [
    ("agent.lrr=1", "agent.lrr: unknown key"),
    ("agent.lr=fast", "agent.lr: expected a number"),
    ("train.total_steps=1.5", "train.total_steps: expected an integer"),
    ("agent.gamma=1.5", "agent.gamma: must be <= 1.0"),
    ("env.num_envs=0", "env.num_envs: must be >= 1"),
    ("agent.double=3", "agent.double: expected true or false"),
    ("device=tpu", "device: unknown device"),
    ("algo=sac", "algo: unknown algo"),
])
def test_bad_values_name_file_and_key(root, override, message):
    with pytest.raises(UserError, match=message) as error:
        load_config(root / CARTPOLE, [override])
    assert str(root / CARTPOLE) in str(error.value)


def cli_error(*args, cwd):
    result = run_cli("train", *args, cwd=cwd)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_cli_errors_are_one_line_exit_2_and_touch_nothing(tmp_path, root):
    (tmp_path / "bad.yaml").write_text("env: {id: CartPole-v1\n  num_envs: [")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "game.yaml").write_text("algo: dqn\nenv: {id: ALE/NoSuchGame-v5}\n")
    runs = tmp_path / "runs"
    existing = runs / "old"
    existing.mkdir(parents=True)
    (existing / "config.yaml").write_text("algo: dqn\n")
    before = {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()}

    assert "missing.yaml: no such config file" in cli_error("missing.yaml", cwd=tmp_path)
    assert "bad.yaml: malformed YAML" in cli_error("bad.yaml", cwd=tmp_path)
    assert "list.yaml: expected a mapping" in cli_error("list.yaml", cwd=tmp_path)
    assert "unknown Atari game 'ALE/NoSuchGame-v5'" in cli_error("game.yaml", cwd=tmp_path)
    assert "agent.nope: unknown key" in cli_error(str(root / CARTPOLE), "agent.nope=1", cwd=tmp_path)
    assert "env.id: unknown environment" in cli_error(str(root / CARTPOLE), "env.id=Nope-v0", cwd=tmp_path)
    assert "DQN needs Discrete actions" in cli_error(str(root / CARTPOLE), "env.id=Pendulum-v1", cwd=tmp_path)
    assert "Box (array) observations" in cli_error(str(root / "configs/cartpole_ppo.yaml"), "env.id=FrozenLake-v1",
                                                   cwd=tmp_path)
    if not torch.cuda.is_available():
        assert "no CUDA GPU" in cli_error(str(root / CARTPOLE), "device=cuda", cwd=tmp_path)
    assert "--resume runs/empty: no run there" in cli_error("--resume", "runs/empty", cwd=tmp_path)
    assert "already holds a run" in cli_error(str(root / CARTPOLE), "--run-dir", "runs/old", cwd=tmp_path)
    assert "has no checkpoint yet" in cli_error("--resume", "runs/old", cwd=tmp_path)
    assert "unknown command 'trian'" in run_cli("trian", cwd=tmp_path).stderr

    after = {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in runs.iterdir()) == ["old"]


def test_help_on_every_command():
    for command in ("train", "gtp", "match"):
        result = run_cli(command, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout
    assert "train" in run_cli("--help").stdout


def test_replay_too_big_for_memory_is_refused_and_leaves_no_run_folder(tmp_path, root):
    line = cli_error(str(root / "configs/pong_dqn.yaml"), "agent.buffer_size=100000000000",
                     "--run-dir", "runs/big", cwd=tmp_path)
    assert "agent.buffer_size: replay needs" in line and "memory is available" in line
    assert not (tmp_path / "runs" / "big").exists()


def test_checkpoints_keep_the_newest_three_and_no_orphan_replays(tmp_path, root):
    import numpy as np

    from rlkit.run import Run

    run = Run.create(load_config(root / CARTPOLE, []), tmp_path / "run", root / CARTPOLE)
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir()
    (folder / "replay_000000000007.npz").write_bytes(b"left by a crash before its checkpoint")
    for step in (10, 20, 30, 40):
        run.save(step, {"weights": torch.zeros(2)}, {"frames": np.zeros(3)})
    kept = [f"{kind}_{step:012d}.{ext}" for step in (20, 30, 40) for kind, ext in (("replay", "npz"), ("step", "pt"))]
    assert sorted(p.name for p in folder.iterdir()) == sorted(kept)
    assert torch.load(folder / "step_000000000040.pt", weights_only=True)["replay_file"] == "replay_000000000040.npz"


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    from rlkit.checkpoint import atomic_torch_save

    path = tmp_path / "checkpoints" / "step_000000000001.pt"
    atomic_torch_save({"weights": torch.ones(3)}, path)
    before = path.read_bytes()

    def disk_full(obj, handle):
        handle.write(b"half a checkpoint")
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError):
        atomic_torch_save({"weights": torch.zeros(3)}, path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind
