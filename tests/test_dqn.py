"""DQN: the TD target by hand, a CartPole learning threshold, determinism, and a Pong run that resumes."""

import copy
import signal
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np
import pytest
import torch

from conftest import ROOT, EpisodeEndsEnv, assert_identical, assert_same_run_twice, evaluated, run_cli, scalars, texts
from rlkit.agents.dqn.actor import linear_epsilon
from rlkit.agents.dqn.config import AgentConfig
from rlkit.agents.dqn.learner import DQNLearner
from rlkit.agents.dqn.network import QNetwork
from rlkit.cli import main as cli_main
from rlkit.errors import UserError
from rlkit.replay import Batch

CARTPOLE = "configs/cartpole_dqn.yaml"


def fixed_net(values):
    """A Q-network whose output for observation [k] is values[k] (a lookup table)."""
    net = QNetwork(gym.spaces.Box(0, 1, (len(values),)), len(values[0]), hidden=[], dueling=False)
    with torch.no_grad():
        net.head.weight.copy_(torch.tensor(values, dtype=torch.float32).T)
        net.head.bias.zero_()
    return net


def one_hot(i, n=3):
    return torch.eye(n)[i]


@pytest.mark.parametrize("double, expected", [(False, 1.0 + 0.9 * 5.0), (True, 1.0 + 0.9 * 2.0)])
def test_td_target_double_chooses_with_online_and_evaluates_with_target(double, expected):
    online = fixed_net([[0.0, 0.0], [0.0, 0.0], [9.0, 1.0]])  # online prefers action 0 in state 2
    learner = DQNLearner(online, AgentConfig(double=double))
    learner.target = fixed_net([[0.0, 0.0], [0.0, 0.0], [2.0, 5.0]])
    batch = Batch(obs=one_hot([0]), actions=torch.tensor([0]), returns=torch.tensor([1.0]),
                  next_obs=one_hot([2]), discounts=torch.tensor([0.9]), weights=torch.ones(1), indices=None)
    assert learner.td_target(batch).item() == pytest.approx(expected)
    batch.discounts = torch.tensor([0.0])  # terminated: no bootstrap
    assert learner.td_target(batch).item() == pytest.approx(1.0)


def test_polyak_and_hard_target_updates():
    net = fixed_net([[1.0, 1.0]])
    learner = DQNLearner(net, AgentConfig(tau=0.25))
    before = copy.deepcopy(learner.target.head.weight)
    with torch.no_grad():
        net.head.weight.add_(4.0)
    learner.sync_target()
    torch.testing.assert_close(learner.target.head.weight, before + 1.0)
    learner.cfg = AgentConfig(tau=1.0)
    learner.sync_target()
    torch.testing.assert_close(learner.target.head.weight, net.head.weight)


def test_dueling_streams_give_value_plus_centred_advantage():
    net = QNetwork(gym.spaces.Box(0, 1, (2,)), 3, hidden=[8, 5], dueling=True)
    obs = torch.randn(4, 2)
    features = net.torso(obs)
    assert features.shape == (4, 8)  # the last hidden layer (5) belongs to each stream, not the torso
    value, advantage = net.value(features), net.advantage(features)
    assert value.shape == (4, 1) and advantage.shape == (4, 3)
    torch.testing.assert_close(net(obs), value + advantage - advantage.mean(dim=1, keepdim=True))
    assert net.value[0].weight.data_ptr() != net.advantage[0].weight.data_ptr()


def test_dueling_on_pixels_splits_the_cnn_hidden_layer():
    net = QNetwork(gym.spaces.Box(0, 255, (4, 84, 84), np.uint8), 6, hidden=[], dueling=True)
    assert net.torso.out_features == 64 * 7 * 7
    assert net.value[0].out_features == net.advantage[0].out_features == 512
    assert net(torch.zeros(2, 4, 84, 84, dtype=torch.uint8)).shape == (2, 6)


def test_other_action_spaces_are_refused_pointing_to_ppo_only_where_it_takes_them():
    """MultiDiscrete actions were sent to PPO, which refuses them too."""
    from rlkit.agents.dqn.actor import require_discrete
    from rlkit.config import load_config

    config = load_config(ROOT / "configs/cartpole_dqn.yaml", ["env.id=my_envs:Mine-v0"])
    for space, hint in ((gym.spaces.Box(-1, 1, (2,)), " (algo: ppo takes continuous ones)"),
                        (gym.spaces.MultiDiscrete([2, 3]), "")):
        with pytest.raises(UserError) as error:
            require_discrete(config, space)
        assert str(error.value) == f"env.id: my_envs:Mine-v0 has action space {space}; DQN needs Discrete actions{hint}"


def test_dueling_without_a_hidden_layer_is_refused():
    with pytest.raises(UserError, match="agent.dueling"):
        QNetwork(gym.spaces.Box(0, 1, (2,)), 3, hidden=[], dueling=True)


def test_linear_epsilon_schedule():
    assert linear_epsilon(0, 1.0, 0.1, 100) == 1.0
    assert linear_epsilon(50, 1.0, 0.1, 100) == pytest.approx(0.55)
    assert linear_epsilon(500, 1.0, 0.1, 100) == pytest.approx(0.1)


def test_cartpole_dqn_learns(tmp_path, capsys):
    """From seed 1 the shipped config reaches a mean return >= 400 over its last 10 episodes, and its
    final checkpoint plays that well greedily (`rlkit evaluate`; measured: 444.8 over 10 games)."""
    # in-process: the same run as `rlkit train` in a process of its own (the run seeds everything it
    # uses), without that process's start-up
    assert cli_main(["train", str(ROOT / CARTPOLE), "train.progress_bar=false", "--run-dir",
                     str(tmp_path / "run")]) == 0, capsys.readouterr().err
    returns = [value for _, value in scalars(tmp_path / "run", "episode/return")]
    assert np.mean(returns[-10:]) >= 400, returns[-10:]
    assert np.mean(evaluated(capsys, tmp_path / "run", "--episodes", "10", "--deterministic")[0]) >= 400


def test_same_seed_same_run(tmp_path):
    """Two CPU runs from one seed give identical episodes and identical weights."""
    assert_same_run_twice(tmp_path, CARTPOLE, 3000, "q_net", "agent.learning_starts=500")


@pytest.mark.parametrize("threads", [1, 2])
def test_the_heading_names_the_cpu_thread_count(tmp_path, capsys, threads):
    """Runs on 1 and 2 threads differ in the last bits (measured on PPO and the Atari CNN), and a config's
    `torch_threads: 0` is torch's default, one per core: the heading says what the run had, to reproduce it."""
    before = torch.get_num_threads()
    try:
        assert cli_main(["train", str(ROOT / CARTPOLE), "train.total_steps=8", f"torch_threads={threads}", "device=cpu",
                         "train.progress_bar=false", "--run-dir", str(tmp_path / "run")]) == 0
    finally:
        torch.set_num_threads(before)
    heading = capsys.readouterr().out.splitlines()[1]
    assert heading == f"training {tmp_path / 'run'} on cpu ({threads} thread{'s' * (threads > 1)}), to step 8"


def test_pong_smoke_run_writes_events_and_checkpoints_then_resumes(tmp_path, capsys):
    run_dir = tmp_path / "pong"
    budget = ["agent.learning_starts=300", "agent.buffer_size=3000", "train.checkpoint_every=500",
              "train.log_every=100", "train.progress_bar=false", "torch_threads=1"]
    first = run_cli("train", "configs/pong_dqn.yaml", "train.total_steps=1000", *budget, "agent.hidden=[32]",
                    "--run-dir", str(run_dir))
    assert first.returncode == 0, first.stderr
    # the CNN ignores agent.hidden: said at once, not only when a resume refuses to change it
    assert "warning: agent.hidden=[32] is not used: pixel observations go through the Nature CNN" in first.stderr
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").glob("*.pt"))
    assert checkpoints == ["step_000000000500.pt", "step_000000001000.pt"]
    assert (run_dir / "config.yaml").exists()
    losses = scalars(run_dir, "train/loss")
    assert losses and all(np.isfinite(v) for _, v in losses)
    for tag in ("train/q_mean", "train/epsilon", "train/lr", "perf/sps", "perf/act_seconds", "perf/env_seconds",
                "perf/learn_seconds"):
        assert scalars(run_dir, tag), tag

    # resumed in-process (the first leg is the real process; the resume reads only what it left on disk)
    assert cli_main(["train", "--resume", str(run_dir), "train.total_steps=1400"]) == 0, capsys.readouterr().err
    state = torch.load(run_dir / "checkpoints" / "step_000000001400.pt", weights_only=True)
    assert state["step"] == 1400 and state["learner"]["updates"] > 0
    steps = [step for step, _ in scalars(run_dir, "train/epsilon")]
    assert steps == sorted(set(steps)) and steps[-1] == 1400  # continued, no step logged twice
    assert [s for s in steps if s > 1000] == [1100, 1200, 1300, 1400]
    (first_step, config_text), (resume_step, resume_text) = texts(run_dir, "config")
    assert first_step == 0 and "agent.lr: 0.0001" in config_text
    assert resume_step == 1000 and resume_text.split() == ["resumed", "with:", "train.total_steps=1400"]
    for step, value in scalars(run_dir, "train/epsilon"):  # logged after the step acted with it
        total = 1000 if step <= 1000 else 1400  # pong_dqn.yaml: 1.0 to 0.01 over 10%, re-spread by the resume
        assert value == pytest.approx(linear_epsilon(step - 1, 1.0, 0.01, 0.1 * total), rel=1e-6), step


def test_all_options_together_and_replay_saved_with_checkpoints(tmp_path):
    """Dueling, n-step, prioritized replay, Polyak targets; save_replay restores the buffer on resume."""
    run_dir = tmp_path / "options"
    options = ["agent.dueling=true", "agent.n_step=3", "agent.prioritized=true", "agent.tau=0.05",
               "agent.target_update_every=4", "agent.learning_starts=200", "train.save_replay=true",
               "train.checkpoint_every=500", "train.progress_bar=false", "env.num_envs=2"]
    assert cli_main(["train", str(ROOT / CARTPOLE), "train.total_steps=1000", *options, "--run-dir", str(run_dir)]) == 0
    with np.load(run_dir / "checkpoints" / "replay_000000001000.npz", allow_pickle=False) as replay:
        assert replay["count"].sum() >= 1000 and replay["tree"][1] > 0
    assert cli_main(["train", "--resume", str(run_dir), "train.total_steps=1200"]) == 0
    before = torch.load(run_dir / "checkpoints" / "step_000000001000.pt", weights_only=True)
    after = torch.load(run_dir / "checkpoints" / "step_000000001200.pt", weights_only=True)
    # with the buffer restored, learning continues at once: 200 steps at 2 envs, one update per 4 steps
    assert after["learner"]["updates"] - before["learner"]["updates"] == 50
    assert all(np.isfinite(v) for _, v in scalars(run_dir, "train/loss"))


def test_a_restored_replay_is_not_held_while_training(tmp_path, monkeypatch):
    """The arrays read from replay_N.npz are copied into the buffer and then let go: kept, they
    would double the replay's memory (GiBs on Atari) for the whole of a resumed run."""
    import weakref

    from rlkit.agents.dqn import train
    from rlkit.run import Run

    run_dir = tmp_path / "run"
    assert cli_main(["train", str(ROOT / CARTPOLE), "train.total_steps=600", "agent.learning_starts=200",
                     "train.save_replay=true", "train.progress_bar=false", "--run-dir", str(run_dir)]) == 0
    loaded, alive_at_save = [], []
    load_replay, save = Run.load_replay, Run.save

    def watched_load(self):
        arrays = load_replay(self)
        loaded.extend(weakref.ref(array) for array in arrays.values())
        return arrays

    def watched_save(self, step, state, replay=None):
        alive_at_save.append(sum(ref() is not None for ref in loaded))
        return save(self, step, state, replay)

    monkeypatch.setattr(Run, "load_replay", watched_load)
    monkeypatch.setattr(Run, "save", watched_save)
    run = Run.resume(run_dir, ["train.total_steps=700"])
    try:
        train(run)
    finally:
        run.finish()
    assert loaded and alive_at_save == [0]


def test_resume_with_an_override_that_does_not_fit_changes_nothing(tmp_path, capsys):
    """A network-changing override on --resume, or one the saved replay does not fit: one line,
    exit 2, no file added or changed; a fitting override is written to config.yaml with the next
    checkpoint."""
    run_dir = tmp_path / "run"
    assert cli_main(["train", str(ROOT / CARTPOLE), "train.total_steps=600", "agent.learning_starts=200",
                     "train.save_replay=true", "train.progress_bar=false", "--run-dir", str(run_dir)]) == 0
    before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    for override, message in [("agent.hidden=[64]", "agent.hidden cannot change on resume"),
                              ("agent.prioritized=true", "the saved replay was written with prioritized=False; resume "
                               "with the run's setting, or with train.save_replay=false to refill the buffer "
                               "instead"),
                              ("agent.buffer_size=5000", "replay_000000000600.npz: holds (slots, envs, frame) (50004, 1, 4), "
                               "where agent.buffer_size, agent.n_step and env.num_envs now make (5004, 1, 4); resume "
                               "with the values it was saved with, or with train.save_replay=false to refill the "
                               "buffer instead")]:
        capsys.readouterr()
        assert cli_main(["train", "--resume", str(run_dir), override, "train.total_steps=800"]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert message in line, line
        assert {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()} == before
    assert cli_main(["train", "--resume", str(run_dir)]) == 0  # complete: it says so and touches nothing
    assert "the run is complete at step 600" in capsys.readouterr().out
    assert {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()} == before
    # restored and saved again with no steps to run, the checkpoint comes back bit for bit
    from rlkit.agents.dqn import train
    from rlkit.run import Run

    saved = torch.load(run_dir / "checkpoints" / "step_000000000600.pt", weights_only=True)
    run = Run.resume(run_dir, [])
    try:
        train(run)
    finally:
        run.finish()
    assert_identical(torch.load(run_dir / "checkpoints" / "step_000000000600.pt", weights_only=True), saved)
    assert cli_main(["train", "--resume", str(run_dir), "train.total_steps=800", "train.progress_bar=false"]) == 0
    assert "total_steps: 800" in (run_dir / "config.yaml").read_text()


def test_resume_past_a_lost_or_damaged_replay_file(tmp_path, capsys):
    """A saved replay that is truncated or gone: one line naming it, exit 2, nothing changed;
    `train.save_replay=false` resumes without it (the buffer refills)."""
    run_dir = tmp_path / "run"
    assert cli_main(["train", str(ROOT / CARTPOLE), "train.total_steps=600", "agent.learning_starts=200",
                     "train.save_replay=true", "train.progress_bar=false", "--run-dir", str(run_dir)]) == 0
    replay_file = run_dir / "checkpoints" / "replay_000000000600.npz"
    replay_file.write_bytes(replay_file.read_bytes()[:1000])
    for damage, reason in [("truncated", "BadZipFile"), ("missing", "no such file")]:
        if damage == "missing":
            replay_file.unlink()
        before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
        assert cli_main(["train", "--resume", str(run_dir), "train.total_steps=800"]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert f"replay_000000000600.npz ({reason})" in line and "train.save_replay=false" in line, line
        assert {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()} == before
    assert cli_main(["train", "--resume", str(run_dir), "train.total_steps=800", "train.save_replay=false",
                     "train.progress_bar=false"]) == 0
    assert (run_dir / "checkpoints" / "step_000000000800.pt").exists()


def test_target_syncs_keep_pace_with_many_envs(tmp_path, monkeypatch):
    """4 envs, a sync every 2 steps: each vector step crosses two sync points and makes both."""
    syncs = []
    sync = DQNLearner.sync_target
    monkeypatch.setattr(DQNLearner, "sync_target", lambda self: (syncs.append(1), sync(self)))
    code = cli_main(["train", str(ROOT / CARTPOLE), "env.num_envs=4", "agent.target_update_every=2",
                     "agent.learning_starts=100", "train.total_steps=400", "train.progress_bar=false",
                     "--run-dir", str(tmp_path / "run")])
    assert code == 0
    assert len(syncs) == 198  # sync points 2, 4, ..., 396: the last vector step starts at step 396


def test_each_checkpoint_is_written_once_and_the_envs_are_closed_on_every_way_out(tmp_path, monkeypatch):
    """The periodic checkpoint that falls on the last step is not written again by the final save;
    the env is closed after a finished run and after one stopped by divergence."""
    import rlkit.run
    from rlkit.envs.classic import ClassicVec

    written, closed = [], []
    save = rlkit.run.atomic_torch_save
    monkeypatch.setattr(rlkit.run, "atomic_torch_save", lambda state, path: (written.append(path.name), save(state, path)))
    close = ClassicVec.close
    monkeypatch.setattr(ClassicVec, "close", lambda self: (closed.append(1), close(self)))
    budget = ["agent.learning_starts=100", "train.total_steps=1000", "train.checkpoint_every=500",
              "train.progress_bar=false"]
    assert cli_main(["train", str(ROOT / CARTPOLE), *budget, "--run-dir", str(tmp_path / "run")]) == 0
    assert written == ["step_000000000500.pt", "step_000000001000.pt"] and closed == [1]
    diverging = ["train", str(ROOT / CARTPOLE), *budget, "agent.lr=1e30", "--run-dir", str(tmp_path / "nan")]
    assert cli_main(diverging) == 1  # training diverged and stopped
    assert closed == [1, 1]


def test_a_resume_with_a_new_learning_rate_uses_it(tmp_path):
    """agent.lr= and agent.adam_eps= given to --resume reach the optimizer, whose saved state held the old ones."""
    run_dir = tmp_path / "run"
    budget = ["agent.learning_starts=100", "train.progress_bar=false", "train.log_every=100"]
    assert cli_main(["train", str(ROOT / CARTPOLE), "train.total_steps=400", *budget, "--run-dir", str(run_dir)]) == 0
    assert cli_main(["train", "--resume", str(run_dir), "train.total_steps=600", "agent.lr=0.01",
                     "agent.adam_eps=0.5"]) == 0
    (group,) = torch.load(run_dir / "checkpoints" / "step_000000000600.pt", weights_only=True)[
        "learner"]["optimizer"]["param_groups"]
    assert (group["lr"], group["eps"]) == (0.01, 0.5)
    assert [value for step, value in scalars(run_dir, "train/lr") if step > 400] == pytest.approx([0.01, 0.01])


def test_sigterm_writes_a_checkpoint_and_resume_continues(tmp_path, capsys):
    """While a run trains, a second process may not resume it. SIGTERM mid-run: checkpoint at the
    step reached, exit 143 (128 + SIGTERM, so a scheduler sees an unfinished job); --resume goes on
    from that step."""
    run_dir = tmp_path / "term"
    process = subprocess.Popen(
        [sys.executable, "-P", "-m", "rlkit.cli", "train", CARTPOLE, "train.progress_bar=false",
         "train.total_steps=1000000", "train.checkpoint_every=2000", "--run-dir", str(run_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(run_dir.glob("checkpoints/step_*.pt")):
        time.sleep(0.5)  # until it has trained a while and saved a checkpoint
    assert list(run_dir.glob("checkpoints/step_*.pt")), "no checkpoint within 120 s"
    # the second resume and the one after the stop run in-process: the pytest process is a process
    # apart from the one training, as a second user's would be
    assert cli_main(["train", "--resume", str(run_dir)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"rlkit train: error: --resume {run_dir}: another rlkit process is training "
        "this run; wait for it to stop, or stop it (Ctrl-C saves a checkpoint)")
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "stopped; checkpoint saved" in out
    checkpoint = max((run_dir / "checkpoints").glob("step_*.pt"))
    stopped_at = torch.load(checkpoint, weights_only=True)["step"]
    assert 0 < stopped_at < 1_000_000

    assert cli_main(["train", "--resume", str(run_dir), f"train.total_steps={stopped_at + 500}"]) == 0
    assert torch.load(run_dir / "checkpoints" / f"step_{stopped_at + 500:012d}.pt", weights_only=True)["step"] == stopped_at + 500


def test_a_diverging_run_stops_with_one_line_and_keeps_its_folder(tmp_path):
    """Q-network weights gone NaN (lr 1e30): exit 1 at the next log point, one line naming the weight;
    nothing saved, the run folder (config and curves) kept."""
    run_dir = tmp_path / "run"
    result = run_cli("train", CARTPOLE, "agent.lr=1e30", "train.total_steps=20000", "train.progress_bar=false",
                     "--run-dir", str(run_dir))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"rlkit train: error: {run_dir}: training diverged by step ") and line.endswith(
        "is not finite) and stopped without saving; no checkpoint had been written. A lower agent.lr or "
        "agent.max_grad_norm may help"), line
    assert (run_dir / "config.yaml").is_file() and scalars(run_dir, "episode/return")
    assert not (run_dir / "checkpoints").exists()


@pytest.mark.parametrize("overrides, warning", [
    (["agent.learning_starts=1000"], "warning: no update will run: the buffer needs 1,000 more transitions "
                                     "(agent.learning_starts) and train.total_steps=1,000 leaves 1,000 steps"),
    (["agent.learning_starts=10", "agent.batch_size=2000", "agent.buffer_size=2000"],
     "warning: no update will run: the buffer needs 2,000 more transitions (agent.batch_size)"),
    # the buffer fills to 90% first, but updates wait for learning_starts: none ran, and nothing said so
    (["agent.learning_starts=5000", "agent.buffer_size=500"],
     "warning: no update will run: updates start at step 5,000 (agent.learning_starts) and the run ends at "
     "train.total_steps=1,000"),
    # each env's newest n_step transitions wait for their return: none was ever ready, and nothing said so
    (["agent.learning_starts=0", "agent.n_step=5000"], "warning: no update ran: the replay never had 64 "
                                                       "transitions ready to sample (each env's newest agent.n_step"),
])
def test_a_budget_too_short_for_any_update_warns(tmp_path, capsys, overrides, warning):
    assert cli_main(["train", str(ROOT / CARTPOLE), "train.total_steps=1000", *overrides,
                     "train.progress_bar=false", "--run-dir", str(tmp_path / "run")]) == 0
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "update" in line]  # one warning, not two
    assert line.startswith(warning), line
    assert not scalars(tmp_path / "run", "train/loss")


def test_priority_settings_without_prioritized_replay_are_warned_of(tmp_path, capsys):
    assert cli_main(["train", str(ROOT / CARTPOLE), "train.total_steps=200", "agent.priority_alpha=0.3",
                     "train.progress_bar=false", "--run-dir", str(tmp_path / "run")]) == 0
    assert "warning: agent.priority_alpha=0.3 is not used: agent.prioritized is off" in capsys.readouterr().err


@pytest.mark.parametrize("config, overrides", [
    (CARTPOLE, ["train.total_steps=200"]),
    ("configs/cartpole_ppo.yaml", ["env.num_envs=4", "agent.num_steps=16", "train.total_steps=64"]),
])
def test_a_zero_learning_rate_is_warned_of(tmp_path, capsys, config, overrides):
    """agent.lr=0 is accepted, as SB3 takes it, but a run that can never change its weights said nothing."""
    for lr in ("0", "1e-4"):
        assert cli_main(["train", str(ROOT / config), *overrides, f"agent.lr={lr}", "train.progress_bar=false",
                         "--run-dir", str(tmp_path / lr)]) == 0
        warned = "warning: agent.lr=0: the weights will never change" in capsys.readouterr().err
        assert warned == (lr == "0")


def test_the_loss_weighs_each_sample_and_the_gradient_is_clipped(monkeypatch):
    """Prioritized replay's importance weights scale each Huber term; max_grad_norm bounds the step's gradient."""
    torch.manual_seed(0)
    net = QNetwork(gym.spaces.Box(-1, 1, (3,)), 2, hidden=[4], dueling=False)
    learner = DQNLearner(net, AgentConfig(max_grad_norm=1e-3, double=False))
    batch = Batch(obs=torch.randn(3, 3), actions=torch.tensor([0, 1, 1]), returns=torch.tensor([5.0, -2.0, 0.3]),
                  discounts=torch.tensor([0.99, 0.0, 0.99]), next_obs=torch.randn(3, 3),
                  weights=torch.tensor([1.0, 0.0, 0.5]), indices=np.arange(3))
    with torch.no_grad():
        q = net(batch.obs).gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        target = batch.returns + batch.discounts * learner.target(batch.next_obs).max(dim=1).values
    expected = (batch.weights * torch.nn.functional.smooth_l1_loss(q, target, reduction="none")).mean()
    import rlkit.agents.dqn.learner as module

    limits = []  # tests/test_optim.py checks the clipped step itself
    step = module.clipped_adam_step
    monkeypatch.setattr(module, "clipped_adam_step", lambda optimizer, max_norm: (limits.append(max_norm),
                                                                                   step(optimizer, max_norm)))
    metrics = learner.update(batch)
    torch.testing.assert_close(metrics["loss"], expected)
    assert limits == [1e-3]


def test_replay_gets_terminations_and_episode_ends_apart(tmp_path, monkeypatch):
    """The loop hands the replay terminations and episode ends apart: a truncated episode is stored as
    ended but not terminated (the replay's own tests show such a transition bootstraps)."""
    from rlkit.agents.dqn.train import train_on
    from rlkit.config import load_config
    from rlkit.replay import ReplayBuffer
    from rlkit.run import Run

    stored = []
    add = ReplayBuffer.add
    monkeypatch.setattr(ReplayBuffer, "add", lambda self, obs, actions, rewards, terminated, reset, final_obs: (
        stored.append((terminated.copy(), reset.copy(), final_obs.copy())),
        add(self, obs, actions, rewards, terminated, reset, final_obs))[1])
    env = EpisodeEndsEnv()
    config = load_config(ROOT / CARTPOLE, ["env.num_envs=3", "train.total_steps=90", "agent.learning_starts=30",
                                           "train.progress_bar=false"])
    run = Run.create(config, tmp_path / "run", ROOT / CARTPOLE)
    try:
        train_on(run, env)
    finally:
        run.finish()
    assert len(stored) == len(env.steps) == 30
    for step, (terminated, reset, final_obs) in zip(env.steps, stored):
        np.testing.assert_array_equal(terminated, step.terminated)
        np.testing.assert_array_equal(reset, step.reset)
        np.testing.assert_array_equal(final_obs[step.reset], step.final_obs[step.reset])
    assert any(step.truncated.any() for step in env.steps)


def test_dueling_streams_send_the_torso_a_gradient_scaled_by_one_over_root_two():
    torch.manual_seed(0)
    net = QNetwork(gym.spaces.Box(0, 1, (3,)), 2, hidden=[4, 5], dueling=True)
    obs = torch.randn(6, 3)
    net(obs).sum().backward()
    scaled = net.torso.net[1].weight.grad.clone()
    net.zero_grad()
    features = net.torso(obs)
    advantage = net.advantage(features)
    (net.value(features) + advantage - advantage.mean(dim=1, keepdim=True)).sum().backward()
    torch.testing.assert_close(scaled, net.torso.net[1].weight.grad * 0.5 ** 0.5)


class CubeEnv(EpisodeEndsEnv):
    """EpisodeEndsEnv's episodes with 3-D float observations: channel c of env i at step t is 1000 c + t + 0.1 i."""

    single_observation_space = gym.spaces.Box(-1e6, 1e6, (2, 3, 4), np.float32)

    def _obs(self) -> np.ndarray:
        cube = np.empty((3, 2, 3, 4), np.float32)
        cube[:] = (np.arange(2) * 1000.0)[None, :, None, None] + (self.t + 0.1 * np.arange(3))[:, None, None, None]
        return cube


def test_three_dimensional_float_observations_are_stored_whole(tmp_path, monkeypatch):
    """Only what the adapter declares a frame stack (`frame_stack` > 1) is stored frame by frame: a (2, 3, 4)
    float array was once stored as its last 'frame' and rebuilt from earlier steps, so the learner saw
    observations the env never gave."""
    from rlkit.agents.dqn.learner import DQNLearner
    from rlkit.agents.dqn.train import train_on
    from rlkit.config import load_config
    from rlkit.run import Run

    seen = []
    update = DQNLearner.update
    monkeypatch.setattr(DQNLearner, "update", lambda self, batch: (seen.append((batch.obs, batch.next_obs)),
                                                                   update(self, batch))[1])
    config = load_config(ROOT / CARTPOLE, ["env.num_envs=3", "train.total_steps=90", "agent.learning_starts=30",
                                           "agent.batch_size=16", "train.progress_bar=false"])
    run = Run.create(config, tmp_path / "run", ROOT / CARTPOLE)
    try:
        train_on(run, CubeEnv())
    finally:
        run.finish()
    assert seen
    for obs, next_obs in seen:
        for cube in (obs, next_obs):
            assert cube.shape[1:] == (2, 3, 4)
            torch.testing.assert_close(cube[:, 1] - cube[:, 0], torch.full_like(cube[:, 0], 1000.0))
            assert (cube == cube[:, :1, :1, :1]).sum() == cube.shape[0] * 12  # each channel constant


def test_gradient_steps_run_that_many_updates_each_train_frequency(tmp_path, monkeypatch):
    """From learning_starts on: one tick every train_frequency env steps (4 envs, 8 steps: every 2nd
    vector step), each of gradient_steps updates."""
    calls = []
    real_update = DQNLearner.update
    monkeypatch.setattr(DQNLearner, "update", lambda self, batch: (calls.append(1), real_update(self, batch))[1])
    counts = {}
    for gradient_steps in (1, 3):
        calls.clear()
        assert cli_main(["train", str(ROOT / CARTPOLE), "train.total_steps=400", "env.num_envs=4",
                         "agent.learning_starts=200", "agent.train_frequency=8", f"agent.gradient_steps={gradient_steps}",
                         "train.progress_bar=false", "--run-dir", str(tmp_path / str(gradient_steps))]) == 0
        counts[gradient_steps] = len(calls)
    assert counts[1] == (400 - 200) // 8 and counts[3] == 3 * counts[1]


def test_prioritized_replay_beta_anneals_linearly_to_one(tmp_path, monkeypatch):
    """Importance-sampling beta goes from agent.priority_beta at step 0 to 1 at train.total_steps:
    each update (1 env, one every 4 steps from step 200) samples with 0.5 + 0.5 * step / 400."""
    from rlkit.replay import ReplayBuffer

    betas = []
    sample = ReplayBuffer.sample
    monkeypatch.setattr(ReplayBuffer, "sample", lambda self, batch_size, device, beta=0.4: (
        betas.append(beta), sample(self, batch_size, device, beta=beta))[1])
    assert cli_main(["train", str(ROOT / CARTPOLE), "agent.prioritized=true", "agent.priority_beta=0.5",
                     "agent.learning_starts=200", "train.total_steps=400", "train.progress_bar=false",
                     "--run-dir", str(tmp_path / "run")]) == 0
    assert betas == pytest.approx([0.5 + 0.5 * step / 400 for step in range(200, 400, 4)], rel=1e-12)
    assert betas[-1] == pytest.approx(0.995)


def test_learning_starts_beyond_the_buffer_is_capped_so_updates_still_run(tmp_path):
    """agent.learning_starts=300 with a 100-transition buffer: the warm-up waits for 90% of the buffer
    (it can never hold 300), and updates run every 4 steps from step 300 on."""
    run_dir = tmp_path / "run"
    assert cli_main(["train", str(ROOT / CARTPOLE), "agent.buffer_size=100", "agent.learning_starts=300",
                     "train.total_steps=400", "train.progress_bar=false", "--run-dir", str(run_dir)]) == 0
    state = torch.load(run_dir / "checkpoints" / "step_000000000400.pt", weights_only=True)
    assert state["learner"]["updates"] == (400 - 300) // 4


def test_each_update_steps_on_its_own_batchs_gradient_and_reports_its_q_values():
    """Gradients must not pile up from one update into the next, and q_mean and td_error describe
    Q(s, a) of the batch's own actions against its TD targets (td_error sets prioritized replay's priorities)."""
    torch.manual_seed(0)
    net = QNetwork(gym.spaces.Box(-1, 1, (3,)), 2, hidden=[4], dueling=False)
    learner = DQNLearner(net, AgentConfig(max_grad_norm=0.0, double=False))

    def batch():
        return Batch(obs=torch.randn(3, 3), actions=torch.tensor([0, 1, 1]), returns=torch.randn(3),
                     discounts=torch.tensor([0.99, 0.0, 0.99]), next_obs=torch.randn(3, 3), weights=torch.ones(3),
                     indices=np.arange(3))

    learner.update(batch())
    second = batch()
    before = copy.deepcopy(net)
    before.zero_grad(set_to_none=True)
    metrics = learner.update(second)
    q = before(second.obs).gather(1, second.actions.unsqueeze(1)).squeeze(1)
    target = learner.td_target(second)  # the target network has not changed
    torch.nn.functional.smooth_l1_loss(q, target).backward()
    for ours, reference in zip(net.parameters(), before.parameters()):
        torch.testing.assert_close(ours.grad, reference.grad)
    torch.testing.assert_close(metrics["q_mean"], q.detach().mean())
    torch.testing.assert_close(metrics["td_error"], (target - q).detach())


def test_updates_wait_for_a_whole_batch_when_learning_starts_is_smaller(tmp_path, monkeypatch):
    """agent.learning_starts=0 with batches of 64: no batch is sampled from a buffer holding fewer than 64."""
    from rlkit.replay import ReplayBuffer

    sizes = []
    sample = ReplayBuffer.sample
    monkeypatch.setattr(ReplayBuffer, "sample", lambda self, batch_size, device, beta=0.4: (
        sizes.append((len(self), batch_size)), sample(self, batch_size, device, beta=beta))[1])
    assert cli_main(["train", str(ROOT / CARTPOLE), "agent.learning_starts=0", "train.total_steps=200",
                     "train.progress_bar=false", "--run-dir", str(tmp_path / "run")]) == 0
    assert sizes and all(size >= batch_size == 64 for size, batch_size in sizes)


def test_prioritized_updates_give_the_sampled_transitions_their_td_errors(tmp_path, monkeypatch):
    """Each update hands the replay the indices it sampled and their TD errors (else every new
    transition keeps the largest priority and sampling stays uniform): 1 env, one update per 4 steps."""
    from rlkit.replay import ReplayBuffer

    updated, given = [], []
    update = DQNLearner.update

    def recorded_update(self, batch):
        metrics = update(self, batch)
        updated.append((batch.indices.copy(), metrics["td_error"].numpy().copy()))
        return metrics

    monkeypatch.setattr(DQNLearner, "update", recorded_update)
    monkeypatch.setattr(ReplayBuffer, "update_priorities", lambda self, indices, td_errors: given.append(
        (indices.copy(), td_errors.copy())))
    assert cli_main(["train", str(ROOT / CARTPOLE), "agent.prioritized=true", "agent.learning_starts=100",
                     "train.total_steps=200", "train.progress_bar=false", "--run-dir", str(tmp_path / "run")]) == 0
    assert len(given) == len(updated) == (200 - 100) // 4
    for (indices, td_errors), (sampled, errors) in zip(given, updated):
        np.testing.assert_array_equal(indices, sampled)
        np.testing.assert_array_equal(td_errors, errors)


def test_a_damaged_checkpoint_or_replay_is_refused_in_one_line_and_changes_nothing(tmp_path, capsys):
    """Files that load but hold what no run saves: optimizer moments of another shape (a SIGSEGV in
    the fused Adam step), NaN weights (refused only after training on, as a "diverged" run), a step
    other than the one the file's name says (its saves overwrote the older checkpoints), a step counter
    far behind (millions of updates in one step: a hang), replay arrays out of range (an out-of-bounds
    write in the compiled writer, a traceback in the loss) or missing (blamed on the checkpoint).
    Each is one line naming the file, exit 2, and the run is left as it was."""
    run_dir = tmp_path / "run"
    assert cli_main(["train", str(ROOT / CARTPOLE), "train.total_steps=600", "agent.learning_starts=200",
                     "train.save_replay=true", "train.progress_bar=false", "--run-dir", str(run_dir)]) == 0
    checkpoint_file = run_dir / "checkpoints" / "step_000000000600.pt"
    replay_file = run_dir / "checkpoints" / "replay_000000000600.npz"
    pristine = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}

    def checkpoint(change):
        state = torch.load(checkpoint_file, weights_only=True)
        change(state)
        torch.save(state, checkpoint_file)

    def replay(change):
        with np.load(replay_file) as data:
            arrays = {key: data[key] for key in data.files}
        change(arrays)
        np.savez(replay_file, **arrays)

    learner = lambda state: state["learner"]  # noqa: E731
    damages = [
        (checkpoint, lambda s: learner(s)["optimizer"]["state"][0].update(exp_avg=torch.zeros(7)),
         "step_000000000600.pt: optimizer state exp_avg of parameter 0 is a tensor of shape (7,)"),
        (checkpoint, lambda s: learner(s)["q_net"]["head.weight"].fill_(float("nan")),
         "step_000000000600.pt: learner.q_net.head.weight holds NaN or infinity"),
        (checkpoint, lambda s: s.update(step=5), "step_000000000600.pt: holds step 5, not the step 600 its name says"),
        (checkpoint, lambda s: s.update(next_update=-10**9), "step_000000000600.pt: its next_update is -1000000000"),
        (replay, lambda a: a.update(actions=np.full_like(a["actions"], 99)), "its 'actions' run from 99 to 99"),
        (replay, lambda a: a.update(head=np.array([10**9])), "replay_000000000600.npz: its 'head' [1000000000]"),
        (replay, lambda a: a.pop("head"), "replay_000000000600.npz: has no 'head' array"),
        (replay, lambda a: a.update(actions=a["actions"][:10]), "its 'actions' array is int64 (10, 1)"),
        (replay, lambda a: a["rewards"].fill(np.nan), "its 'rewards' hold NaN or infinity"),
        (replay, lambda a: a["start"].fill(False), "none of its transitions can be sampled"),  # a hang
        (lambda change: np.savez_compressed(replay_file, **np.load(replay_file), junk=np.zeros(2**20, np.uint8)), None,
         "replay_000000000600.npz holds compressed arrays (frames.npy"),  # a 1 MB file of zeros once took 1 GB
    ]
    for damage, change, message in damages:
        for path, data in pristine.items():
            path.write_bytes(data)
        damage(change)
        before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
        capsys.readouterr()
        assert cli_main(["train", "--resume", str(run_dir), "train.total_steps=800"]) == 2, message
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert message in line, line
        assert {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()} == before
