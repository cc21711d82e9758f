"""End-to-end PPO runs through `rlkit train`: CartPole learns, Pong checkpoints/stops/resumes,
Pendulum (continuous actions) learns, and bad input is one line naming the key."""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from conftest import ROOT, EpisodeEndsEnv, assert_identical, assert_same_run_twice, evaluated, run_cli, scalars
from rlkit.cli import main as cli_main


def rlkit_train(*args: str) -> subprocess.CompletedProcess:
    return run_cli("train", *args, timeout=900)  # room for a loaded machine (Pendulum once took 163 s)


@pytest.mark.slow
def test_cartpole_learns_to_450_from_a_fixed_seed(tmp_path, capsys):
    # The shipped config (RL Zoo hyperparameters) with half its budget: 50k steps, ~20 s here.
    start = time.perf_counter()  # in-process: the same run as in a process of its own, without its start-up
    assert cli_main(["train", str(ROOT / "configs/cartpole_ppo.yaml"), "train.progress_bar=false",
                     "train.total_steps=50000", "seed=1", "--run-dir", str(tmp_path / "run")]) == 0
    returns = [value for _, value in scalars(tmp_path / "run", "episode/return")]
    assert len(returns) >= 10
    print(f"CartPole PPO: {time.perf_counter() - start:.1f} s, last 10 returns {np.mean(returns[-10:]):.1f}")
    assert np.mean(returns[-10:]) >= 450
    # the saved policy plays as well on its own (measured: 500 in each of 10 games, sampled or not)
    assert np.mean(evaluated(capsys, tmp_path / "run", "--episodes", "10")[0]) >= 475


def test_same_seed_same_run(tmp_path):
    """Two CPU runs from one seed give identical episodes and identical weights."""
    assert_same_run_twice(tmp_path, "configs/cartpole_ppo.yaml", 4096, "net")


def test_episodes_that_end_together_each_get_a_point_of_their_own(tmp_path):
    """Pendulum's 4 envs end their 200-step episodes in the same vector step; TensorBoard keeps one
    point per step and tag, so each is logged at its own env's step (797-800), none hidden."""
    assert cli_main(["train", str(ROOT / "configs/pendulum_ppo.yaml"), "train.progress_bar=false",
                     "train.total_steps=800", "agent.num_steps=200", "agent.num_minibatches=4",
                     "agent.update_epochs=1", "torch_threads=1", "--run-dir", str(tmp_path / "run")]) == 0
    assert [step for step, _ in scalars(tmp_path / "run", "episode/return")] == [797, 798, 799, 800]
    assert scalars(tmp_path / "run", "episode/length") == [(797, 200), (798, 200), (799, 200), (800, 200)]

def test_a_resumed_run_logs_and_saves_on_the_same_grid_as_an_unbroken_one(tmp_path):
    """Rollouts of 384 steps against points every 500: a point falls due on the first rollout that
    reaches it (768, 1152, 1536, ...), whether or not the run was stopped at 1152 and resumed."""
    settings = (str(ROOT / "configs/cartpole_ppo.yaml"), "env.num_envs=1", "agent.num_steps=384",
                "agent.update_epochs=1", "train.log_every=500", "train.checkpoint_every=500",
                "train.keep_checkpoints=100", "train.progress_bar=false")
    expected = [768, 1152, 1536, 2304, 2688]
    for name, stop_at in (("unbroken", None), ("resumed", 1152)):
        run_dir = tmp_path / name
        assert cli_main(["train", *settings, f"train.total_steps={stop_at or 2688}", "--run-dir", str(run_dir)]) == 0
        if stop_at:
            assert cli_main(["train", "--resume", str(run_dir), "train.total_steps=2688"]) == 0
        saved = sorted(int(path.stem.split("_")[1]) for path in (run_dir / "checkpoints").glob("step_*.pt"))
        assert saved == expected, name
        assert [step for step, _ in scalars(run_dir, "train/lr")] == expected, name


@pytest.mark.slow
def test_pong_smoke_stops_on_sigint_and_resumes_from_its_step(tmp_path, capsys):
    run_dir = tmp_path / "pong"
    tiny = ["train.progress_bar=false", "device=cpu", "torch_threads=1", "env.num_envs=8", "agent.num_steps=32",
            "train.log_every=256", "train.checkpoint_every=100000000"]  # only the stop writes one
    leg1 = subprocess.Popen([sys.executable, "-P", "-m", "rlkit.cli", "train", "configs/pong_ppo.yaml", *tiny, "train.total_steps=1000000",
                             "--run-dir", str(run_dir)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    checkpoints = run_dir / "checkpoints"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and leg1.poll() is None and not (
            run_dir.exists() and len(scalars(run_dir, "train/policy_loss")) >= 2):
        time.sleep(0.5)  # until it has trained a few iterations
    assert leg1.poll() is None, "the run ended before the signal"
    assert len(scalars(run_dir, "train/policy_loss")) >= 2, "no two iterations logged within 180 s"
    leg1.send_signal(signal.SIGINT)  # like Ctrl-C: finish the iteration, checkpoint, exit 130
    out, err = leg1.communicate(timeout=120)
    assert leg1.returncode == 128 + signal.SIGINT, err
    assert "stopped; checkpoint saved" in out
    assert "stopping: a checkpoint is written when the current step or update ends" in err  # said at once
    (checkpoint,) = checkpoints.glob("step_*.pt")  # written by the stop, the only one
    stopped_at = int(checkpoint.stem.split("_")[1])
    assert stopped_at >= 512 and stopped_at % 256 == 0

    state = torch.load(checkpoints / f"step_{stopped_at:012d}.pt", weights_only=True)
    assert state["step"] == stopped_at and state["learner"]["updates"] == stopped_at // 256
    assert {"net", "optimizer"} <= set(state["learner"]) and "torch" in state["rng"]

    # the resumes run in-process (a process start-up each, about 3 s, was most of their time): the
    # killed process above is the real one, and each resume reads only what it left on disk
    events = set(run_dir.glob("events.out.tfevents.*"))
    assert cli_main(["train", "--resume", str(run_dir), f"train.total_steps={stopped_at}"]) == 0  # nothing to run
    assert f"the run is complete at step {stopped_at:,}" in capsys.readouterr().out
    assert_identical(torch.load(checkpoints / f"step_{stopped_at:012d}.pt", weights_only=True), state)
    assert set(run_dir.glob("events.out.tfevents.*")) == events  # it stopped before opening a log
    for override, message in [("agent.activation=relu", "agent.activation cannot change on resume"),
                              ("algo=dqn", "algo cannot change on resume"),
                              ("train.total_steps=256", f"is below the run's step {stopped_at}")]:
        code = cli_main(["train", "--resume", str(run_dir), override])
        err = capsys.readouterr().err
        assert code == 2 and message in err, err

    assert cli_main(["train", "--resume", str(run_dir), f"train.total_steps={stopped_at + 1024}"]) == 0
    # the annealed lr follows the new budget: lr0 * (1 - step at the iteration's start / total)
    for step, lr in scalars(run_dir, "train/lr"):
        if step > stopped_at:
            assert lr == pytest.approx(2.5e-4 * (1 - (step - 256) / (stopped_at + 1024)), rel=1e-5)
    assert (checkpoints / f"step_{stopped_at + 1024:012d}.pt").is_file()
    state = torch.load(checkpoints / f"step_{stopped_at + 1024:012d}.pt", weights_only=True)
    assert state["learner"]["updates"] == stopped_at // 256 + 4  # counters continue

    steps = [step for step, _ in scalars(run_dir, "train/policy_loss")]
    assert steps == list(range(256, stopped_at + 1024 + 1, 256))  # one curve, no gap, no duplicate
    for tag in ("perf/sps", "perf/act_seconds", "perf/env_seconds", "perf/learn_seconds", "train/value_loss",
                "train/entropy", "train/approx_kl", "train/clipfrac", "train/explained_variance"):
        assert scalars(run_dir, tag), tag
    # the config's 4 epochs (no KL stop) and its clip range of 0.1 (not annealed), at every update
    assert {value for _, value in scalars(run_dir, "train/epochs")} == {4.0}
    assert {round(value, 6) for _, value in scalars(run_dir, "train/clip")} == {0.1}


@pytest.mark.slow
def test_pendulum_continuous_actions_learn_from_a_fixed_seed(tmp_path, capsys):
    # The shipped config (RL Zoo hyperparameters, Gaussian policy) with 64% of its budget, ~50 s here.
    assert cli_main(["train", str(ROOT / "configs/pendulum_ppo.yaml"), "train.progress_bar=false",
                     "train.total_steps=65536", "seed=1", "--run-dir", str(tmp_path / "run")]) == 0  # in-process
    returns = [value for _, value in scalars(tmp_path / "run", "episode/return")]
    assert len(returns) == 4 * (65536 // 4 // 200)  # 200-step episodes, truncated (bootstrapped)
    assert np.mean(returns[:20]) < -900  # a random policy scores about -1200
    print(f"Pendulum PPO: first 20 returns {np.mean(returns[:20]):.1f}, last 20 {np.mean(returns[-20:]):.1f}")
    assert np.mean(returns[-20:]) >= -400
    assert (tmp_path / "run" / "checkpoints" / "step_000000065536.pt").is_file()
    # the Gaussian's mean as the action (measured: -171 over 10 games)
    assert np.mean(evaluated(capsys, tmp_path / "run", "--episodes", "10", "--deterministic")[0]) >= -300


@pytest.mark.parametrize("override, key", [
    ("agent.clip_coef=-0.1", "agent.clip_coef"),
    ("agent.num_minibatches=100000", "agent.num_minibatches"),
    ("agent.activation=gelu", "agent.activation"),
    ("agent.gae_lambda=2", "agent.gae_lambda"),
    ("agent.epochs=3", "agent.epochs"),
    ("agent.clip_obs=0", "agent.clip_obs"),
])
def test_bad_input_is_one_line_naming_the_key(tmp_path, capsys, override, key):
    code = cli_main(["train", str(ROOT / "configs/cartpole_ppo.yaml"), override, "train.progress_bar=false",
                     "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and key in err and len(err.splitlines()) == 1, err


def test_truncated_episodes_bootstrap_from_their_final_observation(tmp_path, monkeypatch):
    """Pendulum only ever truncates (200 steps): each truncation bootstraps, for exactly the truncated
    envs, from the critic's value of the final observation the env returned, not of the reset one."""
    from rlkit.agents.ppo.network import ActorCritic
    from rlkit.envs.classic import ClassicVec
    from rlkit.storage import RolloutStorage

    env_steps, value_calls, bootstraps, outcomes = [], [], [], []
    recv, value, bootstrap = ClassicVec.recv, ActorCritic.value, RolloutStorage.bootstrap
    add_outcome = RolloutStorage.add_outcome

    def spy_recv(self):
        env_steps.append(recv(self))
        return env_steps[-1]

    def spy_value(self, obs):
        out = value(self, obs)
        value_calls.append((obs.clone(), out.clone()))
        return out

    def spy_bootstrap(self, t, rows, final_values, gamma):
        bootstraps.append((len(env_steps), rows.copy(), final_values.clone(), value_calls[-1]))
        return bootstrap(self, t, rows, final_values, gamma)

    monkeypatch.setattr(ClassicVec, "recv", spy_recv)
    monkeypatch.setattr(ActorCritic, "value", spy_value)
    def spy_add_outcome(self, t, rewards, ends):
        outcomes.append(np.asarray(ends).copy())
        return add_outcome(self, t, rewards, ends)

    monkeypatch.setattr(RolloutStorage, "bootstrap", spy_bootstrap)
    monkeypatch.setattr(RolloutStorage, "add_outcome", spy_add_outcome)
    assert cli_main(["train", str(ROOT / "configs/pendulum_ppo.yaml"), "train.total_steps=4096",
                     "train.progress_bar=false", "--run-dir", str(tmp_path / "run")]) == 0

    truncated_at = [k + 1 for k, step in enumerate(env_steps) if step.truncated.any()]
    assert truncated_at == [200, 400, 600, 800, 1000]  # 4 envs in step, 1024 steps each
    assert [count for count, *_ in bootstraps] == truncated_at
    for count, rows, final_values, (obs, out) in bootstraps:
        step = env_steps[count - 1]
        np.testing.assert_array_equal(rows, np.flatnonzero(step.truncated))
        np.testing.assert_array_equal(obs.numpy(), step.final_obs[rows])
        assert not np.allclose(step.final_obs[rows], step.obs[rows])  # the reset observation differs
        torch.testing.assert_close(final_values, out, rtol=0, atol=0)
    # a truncation ends the advantage chain as a termination does (the bootstrap above stands in for the rest)
    for step, ends in zip(env_steps, outcomes, strict=True):
        np.testing.assert_array_equal(ends, step.terminated | step.reset)


def test_only_truncated_envs_bootstrap_and_every_episode_end_cuts_the_advantages(tmp_path, monkeypatch):
    from rlkit.agents.ppo.train import train_on
    from rlkit.config import load_config
    from rlkit.run import Run
    from rlkit.storage import RolloutStorage

    bootstrapped, outcomes = [], []
    bootstrap, add_outcome = RolloutStorage.bootstrap, RolloutStorage.add_outcome
    env = EpisodeEndsEnv()
    monkeypatch.setattr(RolloutStorage, "bootstrap", lambda self, t, rows, values, gamma: (
        bootstrapped.append((len(env.steps), rows.copy())), bootstrap(self, t, rows, values, gamma))[1])
    monkeypatch.setattr(RolloutStorage, "add_outcome", lambda self, t, rewards, ends: (
        outcomes.append(np.asarray(ends).copy()), add_outcome(self, t, rewards, ends))[1])
    config = load_config(ROOT / "configs/cartpole_ppo.yaml", ["env.num_envs=3", "train.total_steps=96",
                                                              "train.progress_bar=false"])
    run = Run.create(config, tmp_path / "run", ROOT / "configs/cartpole_ppo.yaml")
    try:
        train_on(run, env)
    finally:
        run.finish()
    assert len(env.steps) == 32
    for step, ends in zip(env.steps, outcomes, strict=True):
        np.testing.assert_array_equal(ends, step.terminated | step.reset)
    assert [count for count, _ in bootstrapped] == [7, 14, 21, 28]
    assert all(rows.tolist() == [1] for _, rows in bootstrapped)


def test_a_run_that_ended_past_its_budget_resumes_as_complete(tmp_path, capsys):
    """PPO steps whole rollouts (8 envs x 32 here), so 300 steps end at 512: resuming it is no error,
    while an override that lowers the budget below the run's step is refused; one that extends it
    may change agent.adam_eps. A setting the network does not use (init_log_std, discrete actions) is warned of.
    In-process: five process start-ups were most of this test's time."""
    run_dir = tmp_path / "run"

    def train(*argv: str) -> tuple[int, str, str]:
        code = cli_main(["train", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    code, _, err = train(str(ROOT / "configs/cartpole_ppo.yaml"), "train.total_steps=300", "train.progress_bar=false",
                         "agent.init_log_std=0.5", "--run-dir", str(run_dir))
    assert code == 0, err
    assert "warning: agent.init_log_std=0.5 is not used: discrete actions have no standard deviation" in err
    assert "agent.hidden" not in err and "agent.activation" not in err  # used by the MLPs
    assert "whole rollouts of 256 steps (agent.num_steps x env.num_envs), so this run stops at step 512" in err
    assert (run_dir / "checkpoints" / "step_000000000512.pt").is_file()
    code, out, err = train("--resume", str(run_dir))
    assert code == 0 and "the run is complete at step 512; extend" in out, err
    code, out, err = train("--resume", str(run_dir), "agent.lr=0.1")  # said, not silently dropped
    assert "the run is complete at step 512 (agent.lr=0.1 changed nothing); extend" in out, err
    code, _, err = train("--resume", str(run_dir), "train.total_steps=200")
    assert code == 2 and "train.total_steps=200 is below the run's step 512" in err
    code, _, err = train("--resume", str(run_dir), "train.total_steps=1024", "agent.adam_eps=0.5")
    assert code == 0, err
    state = torch.load(run_dir / "checkpoints" / "step_000000001024.pt", weights_only=True)
    assert state["learner"]["optimizer"]["param_groups"][0]["eps"] == 0.5  # the saved eps did not undo it


def test_a_diverging_run_stops_with_one_line_and_keeps_its_good_checkpoints(tmp_path):
    """Weights gone NaN (lr 1e30 on resume): exit 1 and one line naming the weight and the newest
    checkpoint; nothing is saved from then on, so the finite checkpoints are not pushed out."""
    run_dir = tmp_path / "run"  # trained in-process; the diverging resume is a real process
    assert cli_main(["train", str(ROOT / "configs/cartpole_ppo.yaml"), "train.total_steps=512",
                     "train.progress_bar=false", "--run-dir", str(run_dir)]) == 0
    checkpoints = {path: path.read_bytes() for path in (run_dir / "checkpoints").iterdir()}
    diverged = rlkit_train("--resume", str(run_dir), "agent.lr=1e30", "train.total_steps=4096",
                           "train.checkpoint_every=256")
    assert diverged.returncode == 1 and "Traceback" not in diverged.stderr, diverged.stderr
    assert diverged.stderr.strip().splitlines() == [
        f"rlkit train: error: {run_dir}: training diverged by step 768 (actor_torso.net.1.weight is not finite) "
        "and stopped without saving; step_000000000512.pt keeps the last finite weights. A lower agent.lr or "
        "agent.max_grad_norm may help"]
    assert {path: path.read_bytes() for path in (run_dir / "checkpoints").iterdir()} == checkpoints


def test_the_loop_passes_gamma_lambda_and_the_remaining_budget_on(tmp_path, monkeypatch):
    """Bootstraps discount by agent.gamma, GAE gets (gamma, gae_lambda) in that order, and each update
    anneals by the budget left when its rollout began: 1 and 1/2 for two rollouts of 48 steps in 96."""
    from rlkit.agents.ppo.learner import PPOLearner
    from rlkit.agents.ppo.train import train_on
    from rlkit.config import load_config
    from rlkit.run import Run
    from rlkit.storage import RolloutStorage

    bootstrap_gammas, gae_args, remainings = [], [], []
    bootstrap, compute_advantages, update = (RolloutStorage.bootstrap, RolloutStorage.compute_advantages,
                                             PPOLearner.update)
    monkeypatch.setattr(RolloutStorage, "bootstrap", lambda self, t, rows, values, gamma: (
        bootstrap_gammas.append(gamma), bootstrap(self, t, rows, values, gamma))[1])
    monkeypatch.setattr(RolloutStorage, "compute_advantages", lambda self, last_value, gamma, lam: (
        gae_args.append((gamma, lam)), compute_advantages(self, last_value, gamma, lam))[1])
    monkeypatch.setattr(PPOLearner, "update", lambda self, storage, remaining: (
        remainings.append(remaining), update(self, storage, remaining))[1])
    config = load_config(ROOT / "configs/cartpole_ppo.yaml", [
        "env.num_envs=3", "agent.num_steps=16", "train.total_steps=96", "agent.update_epochs=1",
        "agent.gamma=0.9", "agent.gae_lambda=0.5", "train.progress_bar=false"])
    run = Run.create(config, tmp_path / "run", ROOT / "configs/cartpole_ppo.yaml")
    try:
        train_on(run, EpisodeEndsEnv())  # env 1 is truncated every 7th of its 32 steps
    finally:
        run.finish()
    assert bootstrap_gammas == [0.9] * 4
    assert gae_args == [(0.9, 0.5)] * 2
    assert remainings == [1.0, 0.5]
