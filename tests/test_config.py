"""Config loading and the CLI's answers to bad input: one line naming the file and key, exit 2."""

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import assert_one_line_error, run_cli
from rlkit.config import load_config
from rlkit.errors import UserError

CARTPOLE = "configs/cartpole_dqn.yaml"


def test_yaml_and_dotted_overrides_are_typed(root):
    config = load_config(root / CARTPOLE, ["agent.lr=1e-4", "train.total_steps=5e3", "seed=7", "agent.double=true"])
    assert config.agent.lr == pytest.approx(1e-4) and isinstance(config.agent.lr, float)
    assert config.train.total_steps == 5000 and isinstance(config.train.total_steps, int)
    assert config.seed == 7 and config.agent.double is True


def test_numbers_read_as_yaml_1_2_does(root, tmp_path):
    """YAML 1.1 (PyYAML's default) reads 010 as octal 8, so seeds 008 and 010 were one seed, and
    1:30 as 90; a 20-digit count in quotes went through float()."""
    config = load_config(root / CARTPOLE, ["seed=010", "train.total_steps=1_000", "train.log_every=0x10",
                                           'train.checkpoint_every="12345678901234567891"'])
    assert (config.seed, config.train.total_steps, config.train.log_every) == (10, 1000, 16)
    assert config.train.checkpoint_every == 12345678901234567891
    assert load_config(root / CARTPOLE, ["seed=008"]).seed == 8
    (tmp_path / "octal.yaml").write_text((root / CARTPOLE).read_text().replace("seed: 1", "seed: 010"))
    assert load_config(tmp_path / "octal.yaml").seed == 10
    with pytest.raises(UserError, match="seed: expected an integer, got '1:30'"):
        load_config(root / CARTPOLE, ["seed=1:30"])


def test_booleans_read_as_yaml_1_2_does(root, tmp_path):
    """YAML 1.1 reads yes, no, on and off as booleans: `env.id=no` said 'expected a string, got False'."""
    assert load_config(root / CARTPOLE, ["env.id=no"]).env.id == "no"  # refused later, as an unknown game id
    config = load_config(root / CARTPOLE, ["agent.double=false", "train.progress_bar=TRUE"])
    assert config.agent.double is False and config.train.progress_bar is True
    with pytest.raises(UserError, match="train.progress_bar: expected true or false, got 'yes'$"):
        load_config(root / CARTPOLE, ["train.progress_bar=yes"])
    (tmp_path / "on.yaml").write_text((root / CARTPOLE).read_text().replace("double: true", "double: on"))
    with pytest.raises(UserError, match="agent.double: expected true or false, got 'on'"):
        load_config(tmp_path / "on.yaml")


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).parents[1] / "configs").glob("*.yaml")))
def test_every_shipped_config_loads(root, name):
    from rlkit.envs import check_env_id

    config = load_config(root / "configs" / name)
    check_env_id(config.env)  # the game or gymnasium id exists here
    assert config.train.total_steps > 0


def test_an_algo_override_is_named_when_the_files_agent_keys_are_for_another_algo(root):
    with pytest.raises(UserError) as error:
        load_config(root / "configs/cartpole_ppo.yaml", ["algo=dqn"])
    assert str(error.value).startswith(f"{root / 'configs/cartpole_ppo.yaml'}: agent.num_steps: unknown key")
    assert str(error.value).endswith("(the override 'algo=dqn' chose dqn's agent keys)")


@pytest.mark.parametrize("override, message", [
    ("agent.lrr=1", "unknown key"),
    ("agent.lr=fast", "expected a finite number"),
    ("agent.lr=nan", "expected a finite number"),
    ("agent.lr=true", "expected a finite number"),
    ("agent.max_grad_norm=.inf", "expected a finite number"),
    ("agent.lr=1" + "0" * 400, "expected a finite number"),
    ("seed=1" + "0" * 400, "must be <= 2147483647"),
    ("train.total_steps=1.5", "expected an integer"),
    ("agent.gamma=1.5", "must be <= 1.0"),
    ("env.num_envs=0", "must be >= 1"),
    ("env.num_envs=100000000", "must be <= 4096"),  # spent minutes making environments
    ("agent.double=3", "expected true or false"),
    ("device=tpu", "unknown device"),
    ("device=cudafoo", "unknown device"),
    ("algo=sac", "unknown algo"),
    ("seed=-1", "must be >= 0"),
    ("seed=123456789012345678901234", "must be <= 2147483647"),
    ("agent.hidden=[64, 0]", "must be >= 1"),
    ("torch_threads=100000", "must be <= 1024"),  # more threads than the process can start crashed
    ("agent.adam_eps=0", "must be > 0.0"),  # Adam divided 0 by 0 for a weight without gradient: NaN weights
    ("env.sticky_actions=1", "must be < 1.0"),  # the first action repeated forever: the agent's never reached the game
    ("agent=0", "expected a mapping"),  # was taken for "all defaults"
])
def test_bad_overrides_name_the_override_and_the_file(root, override, message):
    with pytest.raises(UserError) as error:
        load_config(root / CARTPOLE, [override])
    key = override.partition("=")[0]
    assert str(error.value).startswith(f"override '{override}' (applied to {root / CARTPOLE}): {key}: {message}")


@pytest.mark.parametrize("value", ["100", "-1e300"])
def test_an_initial_log_std_past_float32_is_refused(root, value):
    """exp() of it overflowed: a traceback while building the network, or a run that always diverged."""
    config = root / "configs/pendulum_ppo.yaml"
    with pytest.raises(UserError, match=f"override 'agent.init_log_std={value}' .*: agent.init_log_std: must be"):
        load_config(config, [f"agent.init_log_std={value}"])


@pytest.mark.parametrize("key", ["agent.clip_coef", "agent.clip_obs"])
def test_a_ppo_clip_past_float32_is_refused(root, key):
    """torch clamps float32 tensors to them: a traceback at the first update or the first observation."""
    config = root / "configs/pendulum_ppo.yaml"
    assert getattr(load_config(config, [f"{key}=3.4028234663852886e38"]).agent, key[6:]) == np.finfo(np.float32).max
    with pytest.raises(UserError, match=f"override '{key}=3.4028235e38' .*: {key}: must be <= 3.40282346"):
        load_config(config, [f"{key}=3.4028235e38"])


def test_an_error_quoting_a_line_break_is_one_line(root, capsys):
    assert_one_line_error(capsys, ["train", str(root / CARTPOLE), "agent.lr=|\n  x"],
                          f"rlkit train: error: override 'agent.lr=|\\n  x' (applied to {root / CARTPOLE}): "
                          "agent.lr: expected a finite number, got 'x'")


@pytest.mark.parametrize("text, message", [
    ("agent:\n  lrr: 1\n", "bad.yaml: agent.lrr: unknown key"),
    ("agent:\n  gamma: 2\n", "bad.yaml: agent.gamma: must be <= 1.0"),
    ("seed: 1\nseed: 2\n", "bad.yaml: malformed YAML (line 2): key 'seed' is given twice"),
    ("", "bad.yaml: the file is empty"),
    ("? [1, 2]\n: 3\n", "bad.yaml: malformed YAML (line 1): found unhashable key"),
    (b"seed: 1 # caf\xe9\n", "bad.yaml: not UTF-8 text (byte 13)"),
    (b"\x00\x01binary", "bad.yaml: malformed YAML: unacceptable character #x0000"),
    ("algo: dqn\n1: 2\n", "bad.yaml: 1: unknown key"),  # a key that is not a string gave a traceback
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "bad.yaml: malformed YAML: nested too deeply"),
    ("seed: 2020-13-45\n", "bad.yaml: malformed YAML: month must be in 1..12"),  # gave a traceback
    ("seed: !!int abc\n", "bad.yaml: malformed YAML: invalid literal for int()"),
    ("seed: !!timestamp foo\n", "bad.yaml: malformed YAML: a value that its tag"),
])
def test_bad_files_name_the_file_and_key(tmp_path, text, message):
    (tmp_path / "bad.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(UserError) as error:
        load_config(tmp_path / "bad.yaml")
    assert str(error.value).startswith(str(tmp_path / message)) and "\n" not in str(error.value)


def cli_error(*args, cwd):
    result = run_cli("train", *args, cwd=cwd)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_cli_errors_are_one_line_exit_2_and_touch_nothing(tmp_path, root, monkeypatch, capsys):
    """Most cases run in-process (a process each took 3 s); the first and the last go through a real one."""
    from rlkit.cli import main as cli_main

    def cli_error_here(*args, cwd):
        assert cli_main(["train", *args]) == 2
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and captured.out == "", captured.err
        return lines[0]

    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("env: {id: CartPole-v1\n  num_envs: [")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "game.yaml").write_text("algo: dqn\nenv: {id: ALE/NoSuchGame-v5}\n")
    runs = tmp_path / "runs"
    existing = runs / "old"
    existing.mkdir(parents=True)
    (existing / "config.yaml").write_text("algo: dqn\n")
    (runs / "afile").write_text("not a folder")
    (runs / "empty").mkdir()
    before = {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()}

    assert "missing.yaml: no such config file" in cli_error("missing.yaml", cwd=tmp_path)
    assert "bad.yaml: malformed YAML" in cli_error_here("bad.yaml", cwd=tmp_path)
    assert "list.yaml: expected a mapping" in cli_error_here("list.yaml", cwd=tmp_path)
    assert "unknown Atari game 'ALE/NoSuchGame-v5'" in cli_error_here("game.yaml", cwd=tmp_path)
    assert "override 'agent.nope=1'" in cli_error_here(str(root / CARTPOLE), "agent.nope=1", cwd=tmp_path)
    assert "env.id: LunarLander-v3 cannot be made here: Box2D is not installed" in cli_error_here(
        str(root / CARTPOLE), "env.id=LunarLander-v3", cwd=tmp_path)
    assert "less than agent.batch_size" in cli_error_here(str(root / CARTPOLE), "agent.buffer_size=8", cwd=tmp_path)
    assert "less than agent.batch_size" in cli_error_here(str(root / CARTPOLE), "agent.buffer_size=8",
                                                     "--run-dir", "runs/empty", cwd=tmp_path)  # left empty
    assert "less than agent.batch_size" in cli_error_here(str(root / CARTPOLE), "agent.buffer_size=8",  # all removed
                                                     "--run-dir", "runs/new/deeper/run", cwd=tmp_path)
    assert "argument --run-dir: give a folder name" in cli_error_here(str(root / CARTPOLE), "--run-dir", "", cwd=tmp_path)
    assert "--run-dir runs/afile: cannot write a run there" in cli_error_here(str(root / CARTPOLE), "--run-dir",
                                                                          "runs/afile", cwd=tmp_path)
    assert "env.id: unknown environment" in cli_error_here(str(root / CARTPOLE), "env.id=Nope-v0", cwd=tmp_path)
    assert cli_error_here(str(root / CARTPOLE), "env.id=CartPole-v1", "env.id=Pong", cwd=tmp_path) == (
        f"rlkit train: error: override 'env.id=Pong' (applied to {root / CARTPOLE}): env.id: unknown environment "
        "'Pong' (not an ALE/Name-v5 game nor a gymnasium id); did you mean ALE/Pong-v5?")
    assert f"override 'env={{id: Pong}}' (applied to {root / CARTPOLE}): env.id: unknown" in cli_error_here(
        str(root / CARTPOLE), "env={id: Pong}", cwd=tmp_path)
    assert "DQN needs Discrete actions" in cli_error_here(str(root / CARTPOLE), "env.id=Pendulum-v1", cwd=tmp_path)
    assert "Box (array) observations" in cli_error_here(str(root / "configs/cartpole_ppo.yaml"), "env.id=FrozenLake-v1",
                                                   cwd=tmp_path)
    if not torch.cuda.is_available():
        assert "no CUDA GPU" in cli_error_here(str(root / CARTPOLE), "device=cuda", cwd=tmp_path)
    assert "--resume runs/empty: no run there" in cli_error_here("--resume", "runs/empty", cwd=tmp_path)
    assert "already holds a run" in cli_error_here(str(root / CARTPOLE), "--run-dir", "runs/old", cwd=tmp_path)
    assert cli_error_here(str(root / CARTPOLE), "--run-dir", "runs", cwd=tmp_path) == (
        "rlkit train: error: --run-dir runs: the folder is not empty (it holds afile and 2 more); a run needs a "
        "folder of its own, such as --run-dir runs/NAME")
    assert "has no checkpoint yet" in cli_error_here("--resume", "runs/old", cwd=tmp_path)
    assert "give the run's folder (runs/old), not a file" in cli_error_here("--resume", "runs/old/config.yaml", cwd=tmp_path)
    assert "--resume takes no CONFIG" in cli_error_here("--resume", "runs/old", str(root / CARTPOLE), cwd=tmp_path)
    assert "runs: a folder, not a config file" in cli_error_here("runs", cwd=tmp_path)
    assert "agent.tau: must be > 0.0" in cli_error_here(str(root / CARTPOLE), "agent.tau=0", cwd=tmp_path)
    assert "unknown command 'trian'" in run_cli("trian", cwd=tmp_path).stderr
    bare = run_cli(cwd=tmp_path)
    assert bare.returncode == 2 and bare.stderr.strip() == (
        "rlkit: error: give a command (train, evaluate, gtp, match); rlkit --help says more")

    after = {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in runs.iterdir()) == ["afile", "empty", "old"]
    assert not any((runs / "empty").iterdir())


def test_errors_found_while_the_agent_sets_up_name_the_file_or_override_that_set_the_key(tmp_path, root, capsys):
    """The README's promise, one line naming the file and key, holds for what only the agent can check:
    an env whose spaces it cannot take, a buffer smaller than a batch, on a fresh run and on a resume."""
    cartpole_ppo = root / "configs/cartpole_ppo.yaml"
    assert_one_line_error(capsys, ["train", str(cartpole_ppo), "env.id=FrozenLake-v1", "--run-dir",
                                   str(tmp_path / "a")],
                          f"rlkit train: error: override 'env.id=FrozenLake-v1' (applied to {cartpole_ppo}): env.id: "
                          "FrozenLake-v1 has observation space Discrete(16); the classic-control adapter takes Box "
                          "(array) observations")
    small = tmp_path / "small.yaml"
    small.write_text("algo: dqn\nagent: {buffer_size: 10, batch_size: 64}\n")
    assert_one_line_error(capsys, ["train", str(small), "--run-dir", str(tmp_path / "b")],
                          f"rlkit train: error: {small}: agent.buffer_size: 10 is less than agent.batch_size (64); "
                          "the buffer must hold a batch")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()

    run_dir = tmp_path / "run"
    from rlkit.cli import main

    assert main(["train", str(cartpole_ppo), "train.total_steps=256", "train.progress_bar=false",
                 "--run-dir", str(run_dir)]) == 0
    capsys.readouterr()
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert_one_line_error(capsys, ["train", "--resume", str(run_dir), "agent.num_minibatches=1000",
                                   "train.total_steps=512"],
                          f"rlkit train: error: override 'agent.num_minibatches=1000' (applied to {run_dir}/config.yaml): "
                          "agent.num_minibatches: 1000 is more than the rollout's 256 transitions (env.num_envs x "
                          "agent.num_steps)")
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


def test_help_on_every_command(capsys):
    from rlkit.cli import COMMANDS
    from rlkit.cli import main as cli_main

    for command in COMMANDS:
        with pytest.raises(SystemExit) as exit_:
            cli_main([command, "--help"])
        assert exit_.value.code == 0 and f"usage: rlkit {command}" in capsys.readouterr().out
    overview = run_cli("--help").stdout  # one process, as a user runs it
    assert all(f"\n  {command} " in overview for command in COMMANDS), overview
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("rlkit ")


@pytest.mark.parametrize("config, override, key", [
    ("pong_dqn", "agent.buffer_size=100000000000", "agent.buffer_size: the replay buffer"),
    ("cartpole_ppo", "agent.num_steps=1000000000000", "agent.num_steps, env.num_envs: the rollout storage")])
def test_storage_too_big_for_memory_is_refused_and_leaves_no_run_folder(tmp_path, root, config, override, key,
                                                                         monkeypatch, capsys):
    from rlkit.cli import main as cli_main

    monkeypatch.chdir(tmp_path)  # in-process: a process start-up was most of this test's time
    assert cli_main(["train", str(root / f"configs/{config}.yaml"), override, "--run-dir", "runs/big"]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert f"{key} needs" in line and "memory is available" in line and captured.out == "", captured
    assert not (tmp_path / "runs" / "big").exists()


@pytest.mark.parametrize("overrides, kept_steps", [([], (20, 30, 40)), (["train.keep_checkpoints=1"], (40,)),
                                                  (["train.keep_checkpoints=5"], (10, 20, 30, 40))])
def test_checkpoints_keep_the_newest_few_and_no_orphan_replays(tmp_path, root, overrides, kept_steps):
    import numpy as np

    from rlkit.run import Run

    run = Run.create(load_config(root / CARTPOLE, overrides), tmp_path / "run", root / CARTPOLE)
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir()
    (folder / "replay_000000000007.npz").write_bytes(b"left by a crash before its checkpoint")
    for step in (10, 20, 30, 40):
        run.save(step, {"weights": torch.zeros(2)}, {"frames": np.zeros(3)})
    run.finish()
    kept = [f"{kind}_{step:012d}.{ext}" for step in kept_steps for kind, ext in (("replay", "npz"), ("step", "pt"))]
    assert sorted(p.name for p in folder.iterdir()) == sorted(kept)
    assert torch.load(folder / "step_000000000040.pt", weights_only=True)["replay_file"] == "replay_000000000040.npz"


def test_resume_names_a_checkpoint_that_is_not_one_of_the_runs(tmp_path, root, capsys):
    """A foreign .pt file as the newest checkpoint: one line naming it, exit 2, nothing changed."""
    from rlkit.cli import main as cli_main
    from rlkit.run import Run

    run_dir = tmp_path / "run"
    Run.create(load_config(root / CARTPOLE, []), run_dir, root / CARTPOLE).finish()
    newest = run_dir / "checkpoints" / "step_000000000900.pt"
    newest.parent.mkdir()
    for content, message in [({"weights": torch.zeros(1)}, f"{newest}: not an rlkit checkpoint (it holds no step count)"),
                             ({"step": True}, f"{newest}: not an rlkit checkpoint (it holds no step count)"),
                             ({"step": -900}, f"{newest}: not an rlkit checkpoint (it holds no step count)"),
                             ({"step": 900, "rng": {}}, f"--resume {run_dir}: step_000000000900.pt has no 'learner' "
                                                         "part, so it is not a checkpoint of this dqn run"),
                             ({"step": 900, "learner": 5, "rng": 1}, f"--resume {run_dir}: the checkpoint does not "
                              "fit this config ('int' object is not subscriptable); leave out overrides that change "
                              "the network or the replay")]:
        torch.save(content, newest)
        before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
        assert cli_main(["train", "--resume", str(run_dir)]) == 2
        assert capsys.readouterr().err.splitlines() == [f"rlkit train: error: {message}"]  # no progress bar
        assert {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()} == before
    torch.save({"step": 800}, run_dir / "checkpoints" / "step_000000000800.pt")  # an older one to fall back to
    newest.write_bytes(b"truncated")
    assert cli_main(["train", "--resume", str(run_dir)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"rlkit train: error: {newest}: not a readable rlkit checkpoint (IndexError); to resume from "
        f"step_000000000800.pt instead, move step_000000000900.pt out of {newest.parent}"]


def test_resume_clears_what_a_killed_save_left_and_counts_only_real_checkpoints(tmp_path, root, monkeypatch):
    """A kill mid-save leaves temporary files (a replay's can be GBs): the next resume deletes them, and
    a fresh start those of a start killed while writing its config.yaml.
    A stray file named step_*.pt is neither resumed from nor counted among the three kept. A budget
    lowered below the run's step by editing config.yaml is refused like the override. A run folder
    that cannot be written is one line, not a traceback."""
    import os

    import rlkit.run
    from rlkit.run import Run

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    killed_start = run_dir / ".config.yaml.x0.tmp"  # a fresh start killed while writing its config.yaml
    killed_start.write_bytes(b"half written")
    run = Run.create(load_config(root / CARTPOLE, []), run_dir, root / CARTPOLE)
    assert not killed_start.exists()
    for step in (10, 20):
        run.save(step, {"learner": {}})
    run.finish()
    folder = run_dir / "checkpoints"
    left = [folder / ".step_000000000030.pt.x1.tmp", folder / ".replay_000000000030.npz.x2.tmp",
            run_dir / ".config.yaml.x3.tmp"]
    for path in left:
        path.write_bytes(b"half written")
    (folder / "step_notes.pt").write_bytes(b"not a checkpoint")
    resumed = Run.resume(run_dir, [])
    assert resumed.checkpoint["step"] == 20 and not any(path.exists() for path in left)
    for step in (30, 40):
        resumed.save(step, {"learner": {}})
    resumed.finish()
    assert sorted(p.name for p in folder.iterdir()) == [
        "step_000000000020.pt", "step_000000000030.pt", "step_000000000040.pt", "step_notes.pt"]

    config_file = run_dir / "config.yaml"
    config_file.write_text(config_file.read_text().replace("total_steps: 60000", "total_steps: 35"))
    with pytest.raises(UserError, match="train.total_steps=35 is below the run's step 40"):
        Run.resume(run_dir, [])

    def read_only(path, flags, mode=0o777):
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(rlkit.run.os, "open", read_only)
    with pytest.raises(UserError, match=r"^--resume .*: cannot write to the run folder \(Read-only file system\)$"):
        Run.resume(run_dir, ["train.total_steps=50"])
    monkeypatch.setattr(rlkit.run.os, "open", os.open)


def test_an_edit_of_config_yaml_cannot_change_the_game_of_a_run(tmp_path, root, capsys):
    """The keys fixed on resume are checked against the checkpoint's own config, not config.yaml."""
    from rlkit.cli import main as cli_main
    from rlkit.run import Run

    run_dir = tmp_path / "run"
    run = Run.create(load_config(root / CARTPOLE, []), run_dir, root / CARTPOLE)
    run.save(500, {"learner": {}})
    run.finish()
    config_file = run_dir / "config.yaml"
    config_file.write_text(config_file.read_text().replace("id: CartPole-v1", "id: Acrobot-v1"))
    before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    assert cli_main(["train", "--resume", str(run_dir)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"rlkit train: error: --resume {run_dir}: env.id cannot change on resume (the checkpoint was trained "
        "with env.id=CartPole-v1); start a new run for env.id=Acrobot-v1"]
    assert {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()} == before


def test_a_resume_stopped_before_it_trained_a_step_rewrites_only_to_keep_its_overrides(tmp_path, root):
    """Stopped at once (SIGTERM as it starts), a plain resume's save at its own start step would rewrite
    the checkpoint it started from, and with train.save_replay GiBs of replay: it is skipped. A resume
    with overrides still saves, so config.yaml keeps them for the `--resume` the stop message prints."""
    from rlkit.run import Run

    run_dir = tmp_path / "run"
    run = Run.create(load_config(root / CARTPOLE, ["train.total_steps=500"]), run_dir, root / CARTPOLE)
    run.save(500, {"learner": {"weight": torch.zeros(2)}})
    run.finish()
    before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    newest = run_dir / "checkpoints" / "step_000000000500.pt"
    for overrides in ([], ["train.total_steps=1000"]):
        resumed = Run.resume(run_dir, overrides)
        try:
            assert resumed.save(500, {"learner": {"weight": torch.ones(2)}}) == newest
        finally:
            resumed.finish()
        if not overrides:
            assert {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()} == before
    assert load_config(run_dir / "config.yaml", []).train.total_steps == 1000
    assert torch.load(newest, weights_only=True)["config"]["train"]["total_steps"] == 1000


def test_a_resume_cannot_change_the_action_set_the_network_was_trained_on(tmp_path, root):
    from rlkit.run import Run

    run_dir = tmp_path / "run"
    run = Run.create(load_config(root / CARTPOLE, []), run_dir, root / CARTPOLE)
    run.save(500, {"learner": {}})
    run.finish()
    with pytest.raises(UserError, match=r"env.full_action_space cannot change on resume \(the checkpoint was "
                                        r"trained with env.full_action_space=False\)"):
        Run.resume(run_dir, ["env.full_action_space=true"])


def test_a_checkpoint_that_cannot_be_written_stops_the_run_in_one_line(tmp_path, root, monkeypatch):
    """A full disk at a checkpoint: TrainingStopped (one line, exit 1) naming the file and the newest
    checkpoint, which stays whole."""
    import errno

    import rlkit.run
    from rlkit.errors import TrainingStopped
    from rlkit.run import Run

    run = Run.create(load_config(root / CARTPOLE, []), tmp_path / "run", root / CARTPOLE)
    run.save(10, {"weights": torch.ones(2)})
    saved = (tmp_path / "run" / "checkpoints" / "step_000000000010.pt").read_bytes()

    def disk_full(obj, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rlkit.run, "atomic_torch_save", disk_full)
    config_before = (tmp_path / "run" / "config.yaml").read_text()
    run.config.train.total_steps = 999  # as a resume's override would: config.yaml takes it only with a checkpoint
    with pytest.raises(TrainingStopped) as error:
        run.save(20, {"weights": torch.ones(2)})
    run.finish()
    assert (tmp_path / "run" / "config.yaml").read_text() == config_before
    assert str(error.value) == (f"{tmp_path / 'run' / 'checkpoints' / 'step_000000000020.pt'}: cannot write the "
                                "checkpoint (No space left on device), so training stopped; step_000000000010.pt "
                                "is the newest checkpoint")
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["step_000000000010.pt"]
    assert (tmp_path / "run" / "checkpoints" / "step_000000000010.pt").read_bytes() == saved


def test_a_run_folder_that_cannot_hold_a_new_run_and_a_network_too_big_are_one_line_errors(tmp_path, root, capsys):
    from conftest import assert_one_line_error
    from rlkit.cli import main

    orphans = tmp_path / "orphans" / "checkpoints"  # a run whose config.yaml was lost
    orphans.mkdir(parents=True)
    (orphans / "step_000000001000.pt").write_bytes(b"a checkpoint")
    assert_one_line_error(capsys, ["train", str(root / CARTPOLE), "--run-dir", str(orphans.parent)],
                          f"rlkit train: error: --run-dir {orphans.parent}: holds the checkpoints of a run (but no "
                          "config.yaml); choose another --run-dir")  # a fresh run pruned them as its own
    assert [p.name for p in orphans.iterdir()] == ["step_000000001000.pt"]

    not_utf8 = tmp_path / b"run\xff".decode("utf-8", "surrogateescape")  # TensorBoard failed there (traceback)
    assert_one_line_error(capsys, ["train", str(root / CARTPOLE), "--run-dir", str(not_utf8)],
                          f"rlkit train: error: {tmp_path}/run\\xff: the run folder's name is not valid UTF-8; give another "
                          "with --run-dir")
    assert not not_utf8.exists()

    huge = tmp_path / "huge"  # torch's allocator failed with a traceback and left the folder behind
    assert main(["train", str(root / CARTPOLE), "agent.hidden=[1000000000]", "--run-dir", str(huge)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"rlkit train: error: override 'agent.hidden=[1000000000]' (applied to {root / CARTPOLE}): "
                           "agent.hidden: the network (weights, gradients and Adam's moments) needs 74.5 GiB but only ") and line.endswith("lower agent.hidden")
    assert not huge.exists()


def test_a_checkpoint_whose_config_cannot_be_written_is_taken_back(tmp_path, root, monkeypatch):
    """The checkpoint is written, then config.yaml fails (a full disk): the checkpoint goes again, so
    config.yaml stays the config of the newest checkpoint, the one a resume reads with it."""
    import errno

    import rlkit.run
    from rlkit.errors import TrainingStopped
    from rlkit.run import Run

    run = Run.create(load_config(root / CARTPOLE, []), tmp_path / "run", root / CARTPOLE)
    run.save(10, {"weights": torch.ones(2)}, replay={"frames": np.zeros(3)})

    def disk_full(config, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rlkit.run, "save_config", disk_full)
    run.config.agent.lr = 0.5  # as a resume's override would
    with pytest.raises(TrainingStopped, match="step_000000000020.pt: cannot write the checkpoint"):
        run.save(20, {"weights": torch.ones(2)}, replay={"frames": np.zeros(3)})
    run.finish()
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == [
        "replay_000000000010.npz", "step_000000000010.pt"]
    assert load_config(tmp_path / "run" / "config.yaml").agent.lr != 0.5


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    from rlkit.checkpoint import atomic_torch_save

    path = tmp_path / "checkpoints" / "step_000000000001.pt"
    atomic_torch_save({"weights": torch.ones(3)}, path)
    before = path.read_bytes()

    def disk_full(obj, handle):
        handle.write(b"half a checkpoint")
        raise OSError("No space left on device")

    def disk_full_behind_zip_writer(obj, handle):  # what torch.save does when the disk fills
        try:
            disk_full(obj, handle)
        finally:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 281152 vs 281104")

    for failing_save in (disk_full, disk_full_behind_zip_writer):
        monkeypatch.setattr(torch, "save", failing_save)
        with pytest.raises(OSError, match="No space left on device"):  # the cause, for the one-line error
            atomic_torch_save({"weights": torch.zeros(3)}, path)
        assert path.read_bytes() == before
        assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def test_overrides_may_come_before_or_after_the_flags():
    from rlkit.train import parse_args

    for argv in (["c.yaml", "--run-dir", "runs/x", "seed=3", "agent.lr=1"],
                 ["c.yaml", "seed=3", "--run-dir", "runs/x", "agent.lr=1"],
                 ["--run-dir", "runs/x", "c.yaml", "seed=3", "agent.lr=1"]):
        args = parse_args(argv)
        assert (args.config, args.overrides, str(args.run_dir)) == ("c.yaml", ["seed=3", "agent.lr=1"], "runs/x")


@pytest.mark.parametrize("flag, hint", [(["--seed", "3"], "seed=3"), (["--total-steps=500"], "train.total_steps=500"),
                                        (["--num_envs", "4"], "env.num_envs=4"), (["--device"], "device=VALUE")])
def test_an_option_that_is_a_setting_is_answered_with_its_override(capsys, flag, hint):
    """SB3's and CleanRL's users write `--seed 3`; rlkit's settings are overrides, and the error says which."""
    from conftest import assert_one_line_error

    assert_one_line_error(capsys, ["train", "configs/cartpole_ppo.yaml", *flag], "rlkit train: error: unrecognized "
                          f"arguments: {' '.join(flag)} (settings are KEY=VALUE overrides: {hint})")
    assert_one_line_error(capsys, ["train", "configs/cartpole_ppo.yaml", "--lr", "1"], "rlkit train: error: "
                          "unrecognized arguments: --lr 1 (settings are KEY=VALUE overrides, such as agent.lr=1e-4)")


def test_a_second_interrupt_keeps_the_run_folder_and_says_so(tmp_path, root, monkeypatch, capsys):
    """Ctrl-C twice before the first checkpoint: exit 130, one line, and the run's config and
    TensorBoard events stay (only bad input found while setting up removes a new folder)."""
    import rlkit.agents.dqn
    from rlkit.train import main

    def interrupted(run):
        run.start().scalar("perf/sps", 1.0, 1)
        run._request_stop(signal.SIGINT, None)  # the first Ctrl-C asks the loop to stop...
        run._request_stop(signal.SIGINT, None)  # ...the second raises KeyboardInterrupt

    monkeypatch.setattr(rlkit.agents.dqn, "train", interrupted)
    assert main([str(root / CARTPOLE), "train.progress_bar=false", "--run-dir", str(tmp_path / "run")]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted again" in err[0] and "has no checkpoint yet" in err[0]
    assert (tmp_path / "run" / "config.yaml").is_file() and list((tmp_path / "run").glob("events.out.tfevents.*"))

    def terminated(run):  # SIGTERM twice: 143, as SIGTERM once
        run.start()
        run._request_stop(signal.SIGTERM, None)
        run._request_stop(signal.SIGTERM, None)

    monkeypatch.setattr(rlkit.agents.dqn, "train", terminated)
    assert main([str(root / CARTPOLE), "train.progress_bar=false", "--run-dir", str(tmp_path / "run2")]) == 143

    def interrupted_after_a_checkpoint(run):  # stops at once: the checkpoint it has stays the newest
        run.start()
        run.save(500, {"learner": {}})
        run._request_stop(signal.SIGINT, None)
        run._request_stop(signal.SIGINT, None)

    monkeypatch.setattr(rlkit.agents.dqn, "train", interrupted_after_a_checkpoint)
    capsys.readouterr()
    assert main([str(root / CARTPOLE), "train.progress_bar=false", "--run-dir", str(tmp_path / "run3")]) == 130
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.endswith("its last checkpoint is step_000000000500.pt"), line
    assert [p.name for p in (tmp_path / "run3" / "checkpoints").iterdir()] == ["step_000000000500.pt"]


def test_ctrl_c_while_setting_up_leaves_no_run_folder(tmp_path, root, monkeypatch):
    """Before the loop's handler is in place Ctrl-C is a plain KeyboardInterrupt: nothing was
    trained, so the new folder goes (the CLI exits 130)."""
    import rlkit.agents.dqn
    from rlkit.train import main

    def interrupted(run):
        raise KeyboardInterrupt  # e.g. while the emulators or the replay are being made

    monkeypatch.setattr(rlkit.agents.dqn, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main([str(root / CARTPOLE), "--run-dir", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()


def test_sigterm_while_setting_up_leaves_no_run_folder_and_exits_143(tmp_path, root, monkeypatch):
    """SIGTERM used to kill the process there, leaving a folder that blocked the --run-dir."""
    import rlkit.agents.dqn
    from rlkit.cli import main

    def terminated(run):  # SIGTERM while the emulators or the replay are being made
        signal.raise_signal(signal.SIGTERM)

    def unhandled(signum, frame):  # in place of the default action, which would end the test session
        raise AssertionError("rlkit train left SIGTERM to the handler it found")

    monkeypatch.setattr(rlkit.agents.dqn, "train", terminated)
    previous = signal.signal(signal.SIGTERM, unhandled)
    try:
        assert main(["train", str(root / CARTPOLE), "--run-dir", str(tmp_path / "run")]) == 143
        assert signal.getsignal(signal.SIGTERM) is unhandled  # given back on the way out
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert not (tmp_path / "run").exists()


def test_the_rlkit_process_takes_sigterm_as_ctrl_c_from_the_start():
    """Only `rlkit train` handled SIGTERM, and only once its own code ran: `rlkit gtp` died of it (-15)."""
    process = subprocess.Popen([sys.executable, "-m", "rlkit.cli", "gtp"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdin.write("name\n")
    process.stdin.flush()
    assert select.select([process.stdout], [], [], 60)[0], "no reply within 60 s"
    assert process.stdout.readline() == "= rlkit\n"  # serving
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143 and err == ""


def test_signals_while_the_rlkit_process_shuts_down_change_nothing():
    """After the command, the interpreter takes a second or so to shut down with torch loaded: a
    signal then made a finished run exit -15 or -2, or printed a KeyboardInterrupt traceback."""
    script = ("import atexit, os, signal, sys\n"
              "from rlkit.cli import main\n"
              "atexit.register(lambda: [os.kill(os.getpid(), s) for s in (signal.SIGINT, signal.SIGTERM)])\n"
              "sys.argv = ['rlkit', 'gtp']\n"
              "sys.exit(main())\n")
    result = subprocess.run([sys.executable, "-c", script], input="quit\n", capture_output=True, text=True,
                            timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "=\n\n", "")


def test_atomic_writes_get_the_mode_a_plain_write_gets(tmp_path):
    from rlkit.atomic import atomic_write_text

    atomic_write_text(tmp_path / "atomic.txt", "x")
    (tmp_path / "plain.txt").write_text("x")
    assert (tmp_path / "atomic.txt").stat().st_mode == (tmp_path / "plain.txt").stat().st_mode


@pytest.mark.parametrize("override, message", [
    ("foo.bar=1", "override 'foo.bar=1' (applied to {config}): foo: unknown key"),  # it made the section foo
    ("agent.nope.deep=1", "override 'agent.nope.deep=1' (applied to {config}): agent.nope: unknown key"),
    ("agent..lr=1", "override 'agent..lr=1': expected KEY=VALUE with a dotted KEY"),
    (".seed=1", "override '.seed=1': expected KEY=VALUE with a dotted KEY"),
])
def test_an_override_that_makes_a_section_or_has_an_empty_key_is_blamed(root, override, message):
    with pytest.raises(UserError) as error:
        load_config(root / CARTPOLE, [override])
    assert str(error.value).startswith(message.format(config=root / CARTPOLE))


def test_a_section_override_is_blamed_for_its_keys_and_yaml_merge_keys_still_work(tmp_path, root):
    with pytest.raises(UserError, match=r"^override 'agent=\{hidden: \[0\]\}' \(applied to .*\): agent.hidden: must"):
        load_config(root / CARTPOLE, ["agent={hidden: [0]}"])
    with pytest.raises(UserError, match=r"^override 'seed=\[': the value is not valid YAML$"):
        load_config(root / CARTPOLE, ["seed=["])
    with pytest.raises(UserError, match=r"^override 'env.id=2020-13-45': the value is not valid YAML: month must be"):
        load_config(root / CARTPOLE, ["env.id=2020-13-45"])  # gave a traceback
    with pytest.raises(UserError, match=r"^override 'seed=!!int ''': the value is not valid YAML: invalid literal"):
        load_config(root / CARTPOLE, ["seed=!!int ''"])  # an IndexError once
    (tmp_path / "empty_agent.yaml").write_text("algo: dqn\nenv: {id: CartPole-v1}\nagent:\n")
    assert load_config(tmp_path / "empty_agent.yaml", ["agent.lr=0.001"]).agent.lr == 0.001  # was "not a section"
    (tmp_path / "merge.yaml").write_text("agent:\n  <<: {lr: 0.001, gamma: 0.9}\n  lr: 0.01\n")
    config = load_config(tmp_path / "merge.yaml")
    assert (config.agent.lr, config.agent.gamma) == (0.01, 0.9)


def test_a_new_run_is_named_after_its_config(tmp_path, root, monkeypatch):
    """configs/x.yaml gives runs/x-TIMESTAMP; an old run's config.yaml gives runs/OLDRUN-TIMESTAMP;
    a second start in the same second gets runs/x-TIMESTAMP-2."""
    from rlkit.run import Run

    monkeypatch.chdir(tmp_path)
    config = load_config(root / CARTPOLE)
    for config_path, name in [(root / CARTPOLE, "cartpole_dqn-"), (Path("runs/pong-s3/config.yaml"), "pong-s3-")]:
        run = Run.create(config, None, config_path)
        run.finish()
        assert run.dir.name.startswith(name)
    monkeypatch.setattr("time.strftime", lambda _: "20261127-150000")  # three starts within one second
    same_second = [Run.create(config, None, root / CARTPOLE) for _ in range(3)]
    for run in same_second:
        run.finish()
    assert [run.dir.name for run in same_second] == ["cartpole_dqn-20261127-150000", "cartpole_dqn-20261127-150000-2",
                                               "cartpole_dqn-20261127-150000-3"]


def test_cuda_rng_states_restore_on_fewer_gpus_than_were_saved(monkeypatch):
    """A checkpoint saved with two GPUs visible resumes where one is: the extra state is ignored."""
    from rlkit.checkpoint import set_rng_state

    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device: restored.append((int(state[0]), device)))
    cpu_state = torch.get_rng_state()
    set_rng_state({"torch": cpu_state, "cuda": [torch.tensor([7], dtype=torch.uint8),
                                                torch.tensor([9], dtype=torch.uint8)]})
    assert restored == [(7, 0)]
    assert torch.equal(torch.get_rng_state(), cpu_state)


def test_a_log_that_cannot_be_opened_on_resume_leaves_the_run_as_it_was(tmp_path, root, monkeypatch, capsys):
    """A full disk when --resume opens its TensorBoard file: one line, exit 1, no file added."""
    import errno

    import rlkit.run
    from rlkit.cli import main as cli_main

    run_dir = tmp_path / "run"
    assert cli_main(["train", str(root / CARTPOLE), "train.total_steps=100", "agent.learning_starts=50",
                     "train.progress_bar=false", "--run-dir", str(run_dir)]) == 0
    before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    real_logger = rlkit.run.Logger

    def full_disk(run_dir, *args, **kwargs):
        real_logger(run_dir, *args, **kwargs).close()  # the event file it creates must go again
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rlkit.run, "Logger", full_disk)
    capsys.readouterr()
    assert cli_main(["train", "--resume", str(run_dir), "train.total_steps=200"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"rlkit train: error: {run_dir}: cannot write the TensorBoard log (No space left on device); "
        "nothing was trained and the run is as it was"]
    assert {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()} == before


def test_a_fresh_run_that_cannot_be_written_leaves_no_folder(tmp_path, root, monkeypatch):
    import errno

    import rlkit.run

    def full_disk(config, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rlkit.run, "save_config", full_disk)
    with pytest.raises(UserError, match="cannot write a run there"):
        rlkit.run.Run.create(load_config(root / CARTPOLE), tmp_path / "runs" / "new", root / CARTPOLE)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("writer", ["torch", "savez", "text"])
def test_atomic_writes_reach_the_disk_before_the_rename_and_the_rename_after(tmp_path, monkeypatch, writer):
    """fsync of the temporary file's data, then the rename, then fsync of the folder: a power cut
    leaves the old file or the new one, never an empty one."""
    import os
    import stat

    import numpy as np

    from rlkit.atomic import atomic_write_text
    from rlkit.checkpoint import atomic_savez, atomic_torch_save

    events = []
    fsync, replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(
        "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"), fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda src, dst: (events.append("rename"), replace(src, dst))[1])
    target = tmp_path / "out"
    {"torch": lambda: atomic_torch_save({"w": torch.ones(2)}, target),
     "savez": lambda: atomic_savez(target, {"a": np.ones(2)}),
     "text": lambda: atomic_write_text(target, "x")}[writer]()
    assert events == ["file", "rename", "folder"]


def test_a_fresh_run_whose_log_cannot_be_opened_leaves_no_folder(tmp_path, root, monkeypatch, capsys):
    import errno

    import rlkit.run
    from rlkit.cli import main as cli_main

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rlkit.run, "Logger", full_disk)
    assert cli_main(["train", str(root / CARTPOLE), "--run-dir", str(tmp_path / "runs" / "new")]) == 1
    assert "cannot write the TensorBoard log (No space left on device); nothing was trained and nothing was kept" \
        in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_log_write_that_fails_mid_run_stops_it_in_one_line(tmp_path, root, monkeypatch, capsys):
    import errno

    from rlkit.cli import main as cli_main
    from rlkit.logger import Logger

    def full_disk(self, tag, value, step):
        if step >= 300:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Logger, "scalar", full_disk)
    run_dir = tmp_path / "run"
    assert cli_main(["train", str(root / CARTPOLE), "train.total_steps=600", "train.checkpoint_every=200",
                     "agent.learning_starts=100", "train.progress_bar=false", "--run-dir", str(run_dir)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    newest = sorted(p.name for p in (run_dir / "checkpoints").glob("step_*.pt"))[-1]
    assert line == (f"rlkit train: error: {run_dir}: training stopped on a system error ([Errno 28] No space left "
                    f"on device); {newest} is the newest checkpoint")


def test_with_resume_only_a_config_file_is_taken_for_a_config():
    from rlkit.train import parse_args

    assert parse_args(["--resume", "runs/x", "agent.dueling"]).overrides == ["agent.dueling"]  # a bad override
    with pytest.raises(UserError, match="--resume takes no CONFIG"):
        parse_args(["--resume", "runs/x", "configs/pong_dqn.yaml"])


def test_the_run_lock_is_taken_on_the_file_in_the_folder_even_if_it_was_replaced_meanwhile(tmp_path, monkeypatch):
    """A discarded start unlinks .lock: a process that opened the old file just before would lock a
    file no longer there, and a third would lock the new one beside it. lock_run locks the file there now."""
    import os

    import rlkit.run_folder

    real_flock, replaced = rlkit.run_folder.fcntl.flock, []

    def flock_after_a_replacement(fd, operation):
        if not replaced:  # between this process's open and its lock, another removes the file and makes it again
            (tmp_path / ".lock").unlink()
            (tmp_path / ".lock").write_text("")
            replaced.append(True)
        return real_flock(fd, operation)

    (tmp_path / ".lock").write_text("")
    monkeypatch.setattr(rlkit.run_folder.fcntl, "flock", flock_after_a_replacement)
    fd, _ = rlkit.run_folder.lock_run(tmp_path, "--resume")
    try:
        assert os.fstat(fd).st_ino == os.stat(tmp_path / ".lock").st_ino
    finally:
        os.close(fd)


def test_an_unexpected_error_while_setting_up_leaves_no_folder_and_one_in_training_keeps_its_logs(tmp_path, root,
                                                                                                  monkeypatch):
    import rlkit.agents.dqn
    from rlkit.train import main

    def fails_setting_up(run):  # e.g. a GPU out of memory while the network is built
        run.start()
        raise RuntimeError("out of memory")

    def fails_training(run):
        run.start().start_clock()
        raise RuntimeError("out of memory")

    for name, train, kept in (("setting-up", fails_setting_up, False), ("training", fails_training, True)):
        monkeypatch.setattr(rlkit.agents.dqn, "train", train)
        with pytest.raises(RuntimeError, match="out of memory"):
            main([str(root / CARTPOLE), "train.progress_bar=false", "--run-dir", str(tmp_path / name)])
        assert (tmp_path / name).exists() == kept, name
    assert list((tmp_path / "training").glob("events.out.tfevents.*"))


def test_a_failed_start_removes_its_own_folder_but_not_a_sibling_run_started_meanwhile(tmp_path, root, monkeypatch):
    """A seed sweep into a new runs/sweep/: one run's bad input must not take the others with it."""
    import rlkit.agents.dqn
    from rlkit.train import main

    sweep = tmp_path / "runs" / "sweep"

    def another_run_starts_then_this_one_fails(run):
        (sweep / "seed-2").mkdir()
        (sweep / "seed-2" / "config.yaml").write_text("seed: 2\n")
        raise UserError("agent.buffer_size: too small")

    monkeypatch.setattr(rlkit.agents.dqn, "train", another_run_starts_then_this_one_fails)
    with pytest.raises(UserError):
        main([str(root / CARTPOLE), "--run-dir", str(sweep / "seed-1")])
    assert sorted(p.name for p in sweep.iterdir()) == ["seed-2"]


def test_a_run_in_training_before_its_first_checkpoint_is_not_called_abandoned(tmp_path, root, capsys):
    from rlkit.run import Run

    run_dir = tmp_path / "run"
    training = Run.create(load_config(root / CARTPOLE, []), run_dir, root / CARTPOLE)  # holds the lock
    try:
        assert_one_line_error(capsys, ["train", str(root / CARTPOLE), "--run-dir", str(run_dir)],
                              f"rlkit train: error: --run-dir {run_dir}: another rlkit process is training a run "
                              "there; choose another --run-dir")
        assert_one_line_error(capsys, ["train", "--resume", str(run_dir)],
                              f"rlkit train: error: --resume {run_dir}: another rlkit process is training this run "
                              "and has not written its first checkpoint yet; wait for it to stop")
    finally:
        training.finish()
    assert (run_dir / "config.yaml").exists()


@pytest.mark.parametrize("command", [["train", "configs/cartpole_dqn.yaml", "--run-dir"], ["train", "--resume"],
                                     ["train"], ["evaluate"]])
def test_a_path_the_system_refuses_is_one_line(tmp_path, root, capsys, command):
    too_long = str(tmp_path / ("x" * 150 + "\n" + "x" * 150))  # a line break in it stays on the one line
    argv = [*(str(root / arg) if arg.endswith(".yaml") else arg for arg in command), too_long]
    from rlkit.cli import main as cli_main

    assert cli_main(argv) == 2
    (line,) = capsys.readouterr().err.splitlines()  # the path, or a file in it, is named
    shown = too_long.replace("\n", "\\n")
    assert line.startswith(f"rlkit {command[0]}: error: {shown}") and line.endswith(": File name too long")


def test_a_gpu_index_past_the_machines_gpus_is_one_line(monkeypatch):
    """cuda:7 on a one-GPU machine failed at the first .to() with a traceback."""
    from rlkit.run import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda:0") and resolve_device("cuda") == torch.device("cuda")
    with pytest.raises(UserError, match=r"device: 'cuda:7' asked for but this machine has 1 CUDA GPU\(s\) "
                                        r"\(cuda:0 to cuda:0\)"):
        resolve_device("cuda:7")


def test_a_section_override_that_drops_keys_of_the_file_says_so(root, capsys):
    """`env={num_envs: 16}` on a Pong config trained CartPole (env.id's default) without a word."""
    config = load_config(root / "configs/pong_ppo.yaml", ["env={num_envs: 16}"])
    assert config.env.id == "CartPole-v1" and config.env.num_envs == 16  # the section is replaced, as given
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("warning: override 'env={num_envs: 16}' replaces the whole env section, so id, ")
    assert line.endswith("go back to their defaults; give env.KEY=VALUE to change one key")
    load_config(root / "configs/pong_ppo.yaml", ["env.num_envs=16"])
    assert capsys.readouterr().err == ""


def test_a_section_override_warning_waits_for_sound_input(tmp_path, root, capsys):
    """rlkit train prints it once the env id and device are known good: bad input stays one line."""
    from rlkit.cli import main as cli_main

    assert cli_main(["train", str(root / CARTPOLE), "env={id: Pong}"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("rlkit train: error: override 'env={id: Pong}'")
    assert cli_main(["train", str(root / CARTPOLE), "env={id: CartPole-v1}", "train.total_steps=100",
                     "agent.learning_starts=50", "train.progress_bar=false", "--run-dir", str(tmp_path / "run")]) == 0
    assert "replaces the whole env section, so num_envs goes back to its default" in capsys.readouterr().err


def test_a_lock_held_for_a_moment_by_another_start_is_waited_for(tmp_path, monkeypatch):
    """Another process's probe (is this run in training?) holds a shared lock for microseconds:
    a start that met it refused the run as if it were in training."""
    import os

    import rlkit.run_folder

    real_flock, busy = rlkit.run_folder.fcntl.flock, [True]

    def probed_once(fd, operation):
        if busy:
            busy.clear()
            raise BlockingIOError
        return real_flock(fd, operation)

    monkeypatch.setattr(rlkit.run_folder.fcntl, "flock", probed_once)
    fd, created = rlkit.run_folder.lock_run(tmp_path, "--run-dir")
    os.close(fd)
    assert created and not busy


def test_octal_overrides_read_in_base_8_as_yaml_1_2_writes_them(root):
    """YAML 1.2 writes octal as 0o17 (010 is ten): 0o17 is fifteen, and an underscore may group its digits."""
    config = load_config(root / CARTPOLE, ["train.log_every=0o17", "seed=0o1_0"])
    assert (config.train.log_every, config.seed) == (15, 8)


def test_an_override_with_nothing_after_the_equals_sign_is_the_empty_string(root):
    """`KEY=` sets '' (what was typed), not YAML's null: the error quotes '' rather than None."""
    with pytest.raises(UserError) as error:
        load_config(root / CARTPOLE, ["seed="])
    assert str(error.value) == f"override 'seed=' (applied to {root / CARTPOLE}): seed: expected an integer, got ''"
    assert load_config(root / CARTPOLE, ["env.id="]).env.id == ""


def test_one_line_escapes_every_unprintable_character():
    """A tab, a carriage return or an escape sequence quoted from user input would break the one-line
    error (or repaint the terminal); each is escaped as repr() writes it, printable text is kept."""
    from rlkit.errors import one_line

    assert one_line("a\tb\rc\x1b[2Jd\u2028e é\n") == "a\\tb\\rc\\x1b[2Jd\\u2028e é\\n"


def test_a_gpu_index_one_past_the_last_gpu_is_refused(monkeypatch):
    """cuda:N is the (N+1)th GPU: with two, cuda:1 is the last one and cuda:2 is past them."""
    from rlkit.run import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(UserError, match=r"^device: 'cuda:2' asked for but this machine has 2 CUDA GPU\(s\) "
                                        r"\(cuda:0 to cuda:1\)$"):
        resolve_device("cuda:2")


def test_a_resume_may_set_the_budget_to_the_runs_own_step_but_not_below(tmp_path, root):
    """train.total_steps equal to the checkpoint's step is a finished run (nothing left to train), not a
    budget lowered below what was trained."""
    from rlkit.run import Run

    run_dir = tmp_path / "run"
    run = Run.create(load_config(root / CARTPOLE, []), run_dir, root / CARTPOLE)
    run.save(40, {"learner": {}})
    run.finish()
    resumed = Run.resume(run_dir, ["train.total_steps=40"])
    resumed.finish()
    assert (resumed.start_step, resumed.config.train.total_steps) == (40, 40)
    with pytest.raises(UserError, match="train.total_steps=39 is below the run's step 40"):
        Run.resume(run_dir, ["train.total_steps=39"])


def test_a_checkpoint_saved_at_step_0_resumes(tmp_path, root):
    """A stop asked for before the first step saves step 0: an rlkit checkpoint like any other."""
    from rlkit.run import Run

    run_dir = tmp_path / "run"
    run = Run.create(load_config(root / CARTPOLE, []), run_dir, root / CARTPOLE)
    run.save(0, {"learner": {}})
    run.finish()
    resumed = Run.resume(run_dir, [])
    resumed.finish()
    assert resumed.start_step == 0 and resumed.checkpoint["step"] == 0


def test_a_run_is_complete_once_its_newest_checkpoint_reaches_the_budget(tmp_path, root):
    """A signal that came during the final save stopped nothing: completed() holds at step ==
    train.total_steps (exit 0), not before it (exit 130 and 'continue with --resume')."""
    from rlkit.run import Run

    run = Run.create(load_config(root / CARTPOLE, ["train.total_steps=30"]), tmp_path / "run", root / CARTPOLE)
    try:
        assert not run.completed()
        run.save(20, {"learner": {}})
        assert not run.completed()
        run.save(30, {"learner": {}})
        assert run.completed()
    finally:
        run.finish()


def test_a_value_that_is_not_finite_inside_a_list_is_found_and_named(tmp_path, root):
    """check_finite walks lists and tuples as well as dicts (an optimizer's param_groups, per-layer
    tensors); the error names the index, and a state that is finite throughout passes."""
    from rlkit.errors import TrainingStopped
    from rlkit.run import Run

    run = Run.create(load_config(root / CARTPOLE, []), tmp_path / "run", root / CARTPOLE)
    try:
        run.check_finite(5, {"learner": {"moments": [torch.ones(2), (torch.ones(1), torch.zeros(3))]}})
        with pytest.raises(TrainingStopped, match=r"training diverged by step 7 \(learner\.moments\.1\.0 is not "
                                                  r"finite\) and stopped without saving; no checkpoint had been written"):
            run.check_finite(7, {"learner": {"moments": [torch.ones(2), (torch.tensor([1.0, float("inf")]),)]}})
    finally:
        run.finish()


def test_a_discarded_run_keeps_its_folder_once_it_wrote_a_checkpoint(tmp_path, root):
    """finish(discard=True) undoes a failed start, but never deletes a checkpoint the run already saved
    (bad input found after the first save: the trained steps stay resumable)."""
    from rlkit.run import Run

    run_dir = tmp_path / "runs" / "new"
    run = Run.create(load_config(root / CARTPOLE, []), run_dir, root / CARTPOLE)
    run.save(10, {"learner": {}})
    run.finish(discard=True)
    assert (run_dir / "config.yaml").is_file()
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["step_000000000010.pt"]


def test_a_run_written_into_the_folder_while_this_start_took_the_lock_is_named_as_such(tmp_path, root, monkeypatch):
    """Another start wrote config.yaml between this start's first check and its lock, then stopped: the
    check made with the lock held (by this process) says the folder holds a run, not that one is training."""
    import rlkit.run
    from rlkit.run import Run
    from rlkit.run_folder import trained_elsewhere

    real_lock_run, run_dir = rlkit.run.lock_run, tmp_path / "run"

    def another_start_first(folder, flag):
        (folder / "config.yaml").write_text("algo: dqn\n")
        return real_lock_run(folder, flag)

    monkeypatch.setattr(rlkit.run, "lock_run", another_start_first)
    with pytest.raises(UserError) as error:
        Run.create(load_config(root / CARTPOLE, []), run_dir, root / CARTPOLE)
    assert str(error.value) == (f"--run-dir {run_dir}: already holds a run, with no checkpoint yet (one that stopped "
                                "before its first has nothing to continue: remove the folder or choose another "
                                "--run-dir)")
    assert not trained_elsewhere(run_dir)  # the lock was let go


def test_atomic_writes_follow_the_umask_of_the_process_that_imports_them(tmp_path):
    """The mode is 0o666 less the umask read at import (0o027 here: nothing for others), not a fixed 0o644."""
    import importlib
    import os
    import stat

    import rlkit.atomic

    before = os.umask(0o027)
    try:
        importlib.reload(rlkit.atomic)
        rlkit.atomic.atomic_write_text(tmp_path / "atomic.txt", "x")
    finally:
        os.umask(before)
        importlib.reload(rlkit.atomic)
    assert stat.S_IMODE((tmp_path / "atomic.txt").stat().st_mode) == 0o640


def test_a_start_in_the_same_second_takes_the_next_name_even_past_a_check_that_just_passed(tmp_path, root,
                                                                                             monkeypatch):
    """Two trainings started in the same second without --run-dir: a check that runs/x-STAMP did not
    exist passed in both, and the second then failed, naming a --run-dir it was never given."""
    from rlkit.run import Run

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("time.strftime", lambda _: "20261127-150000")
    config = load_config(root / CARTPOLE)
    other = Run.create(config, None, root / CARTPOLE)  # the other start, still setting up (its lock held)
    taken, exists = other.dir, Path.exists
    monkeypatch.setattr(Path, "exists", lambda self: False if self == taken else exists(self))  # checked just before
    run = Run.create(config, None, root / CARTPOLE)
    for started in (other, run):
        started.finish()
    assert (other.dir.name, run.dir.name) == ("cartpole_dqn-20261127-150000", "cartpole_dqn-20261127-150000-2")


@pytest.mark.parametrize("runs_existed", [False, True])
def test_a_discarded_default_run_removes_the_runs_folder_only_if_it_made_it(tmp_path, root, monkeypatch, runs_existed):
    """Bad input found while setting up leaves no trace: runs/ goes too when this start made it, not otherwise."""
    from rlkit.run import Run

    monkeypatch.chdir(tmp_path)
    if runs_existed:
        (tmp_path / "runs").mkdir()
    Run.create(load_config(root / CARTPOLE), None, root / CARTPOLE).finish(discard=True)
    assert [p.name for p in tmp_path.iterdir()] == (["runs"] if runs_existed else [])
    assert not runs_existed or list((tmp_path / "runs").iterdir()) == []


def test_a_run_folder_that_cannot_be_made_is_not_retried_under_another_name(tmp_path, monkeypatch):
    """Only a taken name (FileExistsError) moves on to NAME-2: any other failure is raised at once."""
    from rlkit.run_folder import claim_new_folder

    tried, mkdir = [], Path.mkdir

    def refusing_mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if self.parent != tmp_path:
            return mkdir(self, *args, **kwargs)
        tried.append(self.name)
        if len(tried) > 1:
            raise RuntimeError(f"retried as {self.name}")
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refusing_mkdir)
    with pytest.raises(PermissionError):
        claim_new_folder(tmp_path, "run")
    assert tried == ["run"]


def test_a_non_ascii_run_folder_under_an_ascii_locale_is_blamed_on_the_locale(tmp_path, root):
    """Under LC_ALL=C with PYTHONUTF8=0 a name such as runs/é (valid UTF-8) was called 'not valid UTF-8'."""
    result = subprocess.run([sys.executable, "-P", "-m", "rlkit.cli", "train", str(root / CARTPOLE), "--run-dir",
                             "é"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "utf-8"})
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("rlkit train: error: é: this locale reads file names as ascii, so TensorBoard cannot "
                             "write to a run folder whose name is not ASCII; set PYTHONUTF8=1 or a UTF-8 locale, or "
                             "give another with --run-dir\n")
    assert list(tmp_path.iterdir()) == []


def test_a_training_keeps_going_when_its_console_goes_away(tmp_path, root):
    """`rlkit train ... 2>&1 | head -1`: the closed pipe stopped the run ('system error'), losing all it had
    trained since its last checkpoint; so did a warning that stderr could not take, before the first step."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line
    try:
        process = subprocess.run([sys.executable, "-P", "-m", "rlkit.cli", "train", str(root / CARTPOLE),
                                  "train.total_steps=600", "agent.learning_starts=500", "agent.priority_alpha=0.3",
                                  "torch_threads=1", "--run-dir", str(tmp_path / "run")],
                                 stdin=subprocess.DEVNULL, stdout=write_end, stderr=write_end, timeout=300,
                                 env={key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"})
    finally:
        os.close(write_end)
    assert process.returncode == 0
    assert [p.name for p in (tmp_path / "run" / "checkpoints").iterdir()] == ["step_000000000600.pt"]


@pytest.mark.parametrize("argv, stdout, status, err", [
    (["--help"], "pipe", 141, ""),  # its reader went away (`| head -1`): quiet, as SIGPIPE would be
    (["--version"], "/dev/full", 1, "rlkit: error: cannot write to standard output (No space left on device)\n"),
    (["train", "--help"], "pipe", 141, ""),  # argparse's exit skipped the flush: 'Exception ignored', status 120
    (["evaluate", "--help"], "/dev/full", 1,
     "rlkit evaluate: error: cannot write to standard output (No space left on device)\n"),  # unbuffered: status 0
])
@pytest.mark.parametrize("unbuffered", [False, True])
def test_a_stdout_that_fails_is_one_line_or_quiet(argv, stdout, status, err, unbuffered):
    """Both printed a traceback. Buffered (Python's default for a pipe or file), the write happened in the
    interpreter's final flush, after the command had returned: 'Exception ignored', exit status 120."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        with open(stdout, "w") if stdout != "pipe" else open(write_end, "w", closefd=False) as out:
            result = subprocess.run([sys.executable, "-P", "-m", "rlkit.cli", *argv], stdout=out,
                                    stderr=subprocess.PIPE, text=True, timeout=60, env=env)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (status, err)


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_train_in_a_deleted_folder_is_one_line(tmp_path, root, command):
    """torch's import died there with 'Intel oneMKL FATAL ERROR: Cannot load .../libtorch_cpu.so'."""
    gone = tmp_path / "gone"
    gone.mkdir()
    script = f"cd {gone} && rmdir {gone} && exec {sys.executable} -P -m rlkit.cli {command} {root / CARTPOLE}"
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"rlkit {command}: error: the current folder no longer exists (it was deleted); "
                             "cd to another\n")


def test_a_runs_link_to_nowhere_is_one_line_not_an_endless_search_for_a_free_name(tmp_path, root):
    """runs/ a link to a disk not mounted: mkdir's FileExistsError (from runs, not the run's name) was
    taken for a name another start had claimed, and -2, -3, ... were tried for ever."""
    (tmp_path / "runs").symlink_to(tmp_path / "not-mounted")
    result = subprocess.run([sys.executable, "-P", "-m", "rlkit.cli", "train", str(root / CARTPOLE)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("rlkit train: error: runs: cannot write a run there (File exists); give another folder "
                             "with --run-dir\n")
    assert [p.name for p in tmp_path.iterdir()] == ["runs"]
