"""`rlkit evaluate`: episodes split evenly over the envs, whole games counted, seeded, one-line errors.
(The learning tests also evaluate what they trained: tests/test_dqn.py and tests/test_ppo_runs.py.)"""

import os
import re
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

from conftest import ROOT, assert_one_line_error, evaluated, run_cli
from rlkit.evaluate import episode_targets, evaluate
from rlkit.vec import VecStep


class ShortAndLongEpisodes:
    """Two envs: env 0's episodes last 1 step and return 1, env 1's last 5 steps and return 5."""

    num_envs, frame_stack = 2, 1
    single_observation_space = gymnasium.spaces.Box(-1.0, 1.0, (1,), np.float32)
    single_action_space = gymnasium.spaces.Discrete(2)
    lengths = np.array([1, 5])

    def reset(self, seed: int) -> np.ndarray:
        self.t = np.zeros(2, dtype=np.int64)
        return np.zeros((2, 1), np.float32)

    def send(self, actions: np.ndarray) -> None:
        self.t += 1

    def recv(self) -> VecStep:
        reset = self.t == self.lengths
        ended = [float(n) for n in self.lengths[reset]]
        self.t[reset] = 0
        return VecStep(obs=np.zeros((2, 1), np.float32), reward=np.ones(2, np.float32), terminated=reset,
                       truncated=np.zeros(2, bool), reset=reset, final_obs=np.zeros((2, 1), np.float32),
                       episode_returns=ended, episode_lengths=[int(n) for n in ended])

    def close(self) -> None:
        pass


def test_episodes_are_split_evenly_over_the_envs():
    assert episode_targets(10, 4).tolist() == [2, 2, 3, 3]
    assert episode_targets(3, 8).tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    assert all(episode_targets(n, k).sum() == n for n in range(1, 30) for k in range(1, 9))


def test_short_episodes_do_not_fill_the_count():
    """Counting the first 6 episodes to end would give five 1-step games and one 5-step game."""
    seen = []
    ended = evaluate(lambda obs: np.zeros(2, np.int64), ShortAndLongEpisodes(), torch.device("cpu"),
                     episodes=6, seed=0, report=lambda episode, steps: seen.append(episode))
    assert sorted(e.length for e in ended) == [1, 1, 1, 5, 5, 5] and sorted(e.score for e in ended) == [1, 1, 1, 5, 5, 5]
    assert seen == ended and not any(e.cut for e in ended)


def test_a_stalled_game_still_reports_progress(monkeypatch):
    """With no episode ending for SILENCE_SECONDS (here 0: every step), `report` hears (None, steps)."""
    monkeypatch.setattr("rlkit.evaluate.SILENCE_SECONDS", -1.0)
    calls = []
    evaluate(lambda obs: np.zeros(2, np.int64), ShortAndLongEpisodes(), torch.device("cpu"), episodes=2, seed=0,
             report=lambda episode, steps: calls.append((episode and episode.length, steps)))
    assert calls == [(1, 2), (None, 2), (None, 4), (None, 6), (None, 8), (5, 10), (None, 10)]


@pytest.fixture(scope="module")
def pong_run(tmp_path_factory) -> Path:
    """A few PPO steps on Pong: enough for a checkpoint with a real Nature-CNN actor-critic."""
    from rlkit.cli import main

    run_dir = tmp_path_factory.mktemp("evaluate") / "pong"
    assert main(["train", str(ROOT / "configs/pong_ppo.yaml"), "train.total_steps=64", "env.num_envs=2",
                 "agent.num_steps=32", "train.progress_bar=false", "device=cpu", "--run-dir", str(run_dir)]) == 0
    return run_dir


def test_a_pong_checkpoint_plays_whole_episodes_seeded(pong_run, capsys):
    """Time-limited games (truncated) count as episodes; one seed gives the same games twice, other
    seeds other games; a run folder means its newest checkpoint."""
    short = ("env.max_episode_frames=400", "--episodes", "3")  # 100 agent steps a game
    first = run_cli("evaluate", str(pong_run), *short, "--seed", "5")  # as a user runs it
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == (f"{pong_run / 'checkpoints' / 'step_000000000064.pt'}: ppo on ALE/Pong-v5, trained 64 "
                        "steps; 3 episodes on 2 envs, seed 5")
    assert [re.sub(r"return -?\d+", "return R", line) for line in lines[1:4]] == [
        f"episode {i}/3: return R, 100 steps (time limit)" for i in (1, 2, 3)]
    assert re.fullmatch(r"return -?[\d.]+ ± [\d.]+ \(min -?\d+, max -?\d+\) over 3 episodes \(3 ended by the time limit\); "
                        r"length 100\.00 ± 0\.00 \(min 100, max 100\) steps", lines[4])
    returns = [float(re.search(r"return (-?\d+)", line).group(1)) for line in lines[1:4]]
    assert evaluated(capsys, pong_run / "checkpoints" / "step_000000000064.pt", *short, "--seed", "5")[0] == returns
    others = {tuple(evaluated(capsys, pong_run, *short, "--seed", str(seed))[0]) for seed in (6, 7)}
    assert len(others | {tuple(returns)}) > 1


def test_a_cartpole_dqn_checkpoint_plays_from_a_run_folder(tmp_path, capsys):
    """DQN's policy, greedy with --deterministic; CartPole scores +1 a step."""
    from rlkit.cli import main

    run_dir = tmp_path / "run"
    assert main(["train", str(ROOT / "configs/cartpole_dqn.yaml"), "train.total_steps=600", "train.progress_bar=false",
                 "--run-dir", str(run_dir)]) == 0
    returns, lengths = evaluated(capsys, run_dir, "--episodes", "4", "--deterministic", "env.num_envs=2")
    assert len(returns) == 4 and returns == [float(n) for n in lengths]
    # epsilon-greedy at agent.epsilon_end, seeded by default from the run's seed (1 in the config)
    import os

    from rlkit.run_folder import lock_run

    lock, _ = lock_run(run_dir, "--resume")  # as a process training the run holds it: evaluate only reads
    played = []
    try:
        for _ in range(2):
            assert main(["evaluate", str(run_dir), "--episodes", "4", "env.num_envs=2"]) == 0
            played.append(capsys.readouterr().out)
    finally:
        os.close(lock)
    assert played[0] == played[1] and "seed 1000001" in played[0].splitlines()[0], played[0]

    # from Python (SB3's load and predict): the same games as `rlkit evaluate` with the same seed
    from rlkit.evaluate import load_trained

    cli_returns, _ = evaluated(capsys, run_dir, "--episodes", "2", "--deterministic", "--seed", "5")
    trained = load_trained(run_dir, ["env.num_envs=1"], deterministic=True, seed=5)
    try:
        assert (trained.config.algo, trained.step, trained.env.num_envs) == ("dqn", 600, 1)
        obs, returns = trained.env.reset(seed=trained.seed), []
        while len(returns) < 2:
            actions = trained.predict(obs)
            assert isinstance(actions, np.ndarray) and actions.shape == (1,)
            trained.env.send(actions)
            step = trained.env.recv()
            obs = step.obs
            returns += step.episode_returns
    finally:
        trained.close()
    assert returns == cli_returns


@pytest.mark.parametrize("argv, message", [
    (["/nonexistent-run"], "/nonexistent-run: no such run folder or checkpoint file"),
    (["{run}", "agent.lr=1"],
     "'agent.lr=1': evaluate takes env.* (but env.id, env.frame_stack, env.full_action_space), device and torch_threads overrides only "
     "(agent.lr is fixed by the checkpoint)"),
    (["{run}", "seed=3"], "'seed=3': evaluate takes its seed as --seed 3"),  # as train takes it: not "fixed"
    (["{run}", "--episodes", "0"], "--episodes: 0 is not a number of episodes from 1 to 1,000,000"),
    (["{run}", "--seed", "-3"], "--seed: -3 is outside 0..2147483647 (the emulators take 31-bit seeds)"),
    (["{run}", "env.num_envs=0"], "override 'env.num_envs=0' (applied to {ckpt} (its config)): env.num_envs: must be >= 1, got 0"),
    (["{empty}"], "{empty}: no checkpoint there (a run folder holds them in checkpoints/step_N.pt)"),
    (["{readme}"], "{readme}: not a readable rlkit checkpoint (UnpicklingError)"),
    ([], "give a RUN_DIR or a CHECKPOINT file to evaluate"),
    (["{run}", "--episodes", "1000001"], "--episodes: 1000001 is not a number of episodes from 1 to 1,000,000"),
    (["{run}", "env.frame_stack=2"], "'env.frame_stack=2': evaluate takes env.* (but env.id, env.frame_stack, env.full_action_space), "
                                     "device and torch_threads overrides only (env.frame_stack is fixed by the checkpoint)"),
    (["{run}", "env.id=ALE/Breakout-v5"], "'env.id=ALE/Breakout-v5': evaluate takes env.* (but env.id, "
                                          "env.frame_stack, env.full_action_space), device and torch_threads overrides "
                                          "only (env.id is fixed by the checkpoint)"),
    (["{run}", "env.full_action_space=true"], "'env.full_action_space=true': evaluate takes env.* (but env.id, "
                                              "env.frame_stack, env.full_action_space), device and torch_threads "
                                              "overrides only (env.full_action_space is fixed by the checkpoint)"),
    (["{run}", "env.noop_max=2147483648"], "override 'env.noop_max=2147483648' (applied to {ckpt} (its config)): "
                                           "env.noop_max: must be <= 2147483647, got 2147483648"),
    (["{forged}"], None),
    (["{run}", "envv.num_envs=2"], "'envv.num_envs=2': unknown key envv.num_envs (evaluate takes env.*, device and "
                                   "torch_threads)"),
])
def test_bad_input_is_one_line(pong_run, tmp_path, capsys, argv, message):
    names = {"run": str(pong_run), "empty": str(tmp_path), "readme": str(ROOT / "README.md"),
             "ckpt": str(pong_run / "checkpoints" / "step_000000000064.pt"), "forged": str(tmp_path / "forged.pt")}
    checkpoint = torch.load(names["ckpt"], weights_only=True)
    checkpoint["learner"]["net"] = 5  # not weights
    torch.save(checkpoint, names["forged"])
    argv = ["evaluate", *(arg.format(**names) for arg in argv)]
    if message is None:
        from rlkit.cli import main

        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(
            f"rlkit evaluate: error: {names['forged']}: the saved weights do not fit the ActorCritic its config "
            "describes (")
    else:
        assert_one_line_error(capsys, argv, f"rlkit evaluate: error: {message.format(**names)}")


def test_dqn_plays_epsilon_greedy_at_epsilon_end_unless_deterministic():
    """A random action a fraction epsilon_end of the time (half of them the greedy one, with 2 actions)."""
    from rlkit.agents.dqn.actor import policy
    from rlkit.agents.dqn.network import QNetwork
    from rlkit.config import load_config

    config = load_config(ROOT / "configs/cartpole_dqn.yaml", ["agent.epsilon_end=0.5"])
    space = gymnasium.make("CartPole-v1")
    q_net = QNetwork(space.observation_space, 2, config.agent.hidden, config.agent.dueling)
    obs = torch.from_numpy(np.random.default_rng(0).normal(size=(4000, 4)).astype(np.float32))
    greedy = q_net(obs).argmax(1).numpy()
    assert 0.05 < greedy.mean() < 0.95  # both actions are greedy somewhere, so a random one shows
    plays = {deterministic: policy({"q_net": q_net.state_dict()}, config, space.observation_space,
                                   space.action_space, torch.device("cpu"), deterministic, seed=0, what="test")(obs)
             for deterministic in (True, False)}
    np.testing.assert_array_equal(plays[True], greedy)
    assert (plays[False] != greedy).mean() == pytest.approx(0.25, abs=0.03)


def cartpole_checkpoint(path: Path, *overrides: str, learner: bool = True) -> Path:
    """A DQN CartPole checkpoint written here (an untrained Q-network): load_trained's input, no training."""
    from rlkit.agents.dqn.network import QNetwork
    from rlkit.config import config_to_dict, load_config

    config = load_config(ROOT / "configs/cartpole_dqn.yaml", ["torch_threads=0", *overrides])
    space = gymnasium.make("CartPole-v1")
    state = {"step": 7, "config": config_to_dict(config)}
    if learner:
        state["learner"] = {"q_net": QNetwork(space.observation_space, 2, config.agent.hidden,
                                              config.agent.dueling).state_dict()}
    torch.save(state, path)
    return path


def test_the_default_seed_wraps_into_the_emulators_31_bits(tmp_path):
    """The run's seed + 1,000,000 past 2147483647 wraps round (an ALE env refuses a larger seed)."""
    from rlkit.evaluate import load_trained

    trained = load_trained(cartpole_checkpoint(tmp_path / "step_7.pt", "seed=2147483642"))
    trained.close()
    assert trained.seed == 2147483642 + 1_000_000 - 2**31 == 999_994


def test_max_envs_caps_the_checkpoints_envs_but_not_an_override_of_them(tmp_path):
    """`rlkit evaluate --episodes 2` needs no more than 2 envs; env.num_envs=3 given by the user stays 3."""
    from rlkit.evaluate import load_trained

    path = cartpole_checkpoint(tmp_path / "step_7.pt", "env.num_envs=4")
    for overrides, envs in (([], 2), (["env.num_envs=3"], 3)):
        trained = load_trained(path, overrides, max_envs=2)
        trained.close()
        assert trained.env.num_envs == envs, overrides


def test_predict_takes_one_observation_or_a_batch_and_names_a_wrong_shape(tmp_path):
    """A plain gymnasium env's (4,) observation failed deep in torch with an IndexError, and a
    wrong width with a matrix-shape RuntimeError; SB3's predict takes both a single one and a batch."""
    from rlkit.evaluate import load_trained

    trained = load_trained(cartpole_checkpoint(tmp_path / "step_7.pt"), ["env.num_envs=3"], deterministic=True)
    try:
        batch = trained.env.reset(seed=trained.seed)
        actions = trained.predict(batch)
        assert actions.shape == (3,)
        assert [trained.predict(obs) for obs in batch] == list(actions)  # one at a time: one action each
        np.testing.assert_array_equal(trained.predict(torch.as_tensor(batch)), actions)
        env = gymnasium.make("CartPole-v1")
        obs, _ = env.reset(seed=0)
        env.step(trained.predict(obs))
        for shape in ((3, 5), (2, 3, 4), ()):
            with pytest.raises(ValueError) as error:
                trained.predict(np.zeros(shape, np.float32))
            assert str(error.value) == (f"predict: observations of shape {shape}; CartPole-v1 takes one of shape (4,) "
                                        "or a batch of shape (N, 4)")
    finally:
        trained.close()


class CartPoleActionsFrom3(gymnasium.ActionWrapper):
    """CartPole with its two actions numbered 3 and 4 (Discrete(2, start=3)); any other action fails."""

    def __init__(self):
        super().__init__(gymnasium.make("CartPole-v1"))
        self.action_space = gymnasium.spaces.Discrete(2, start=3)

    def action(self, action):
        assert action in (3, 4), action
        return int(action) - 3


def test_predict_gives_a_plain_env_its_own_discrete_actions(tmp_path):
    """A single observation's action came back as 0..n-1, off by the start of a Discrete(n, start) space;
    a batch's stays 0..n-1, as rlkit's env (which shifts them itself) takes it."""
    from rlkit.evaluate import load_trained

    if "RlkitActionsFrom3-v0" not in gymnasium.registry:
        gymnasium.register("RlkitActionsFrom3-v0", CartPoleActionsFrom3)
    trained = load_trained(cartpole_checkpoint(tmp_path / "step_7.pt", "env.id=RlkitActionsFrom3-v0"), "env.num_envs=4")
    try:
        batch = trained.env.reset(seed=trained.seed)
        actions = trained.predict(batch)
        assert set(actions) <= {0, 1}
        assert [trained.predict(obs) for obs in batch] == list(actions + 3)
        env = gymnasium.make("RlkitActionsFrom3-v0")
        obs, _ = env.reset(seed=0)
        for _ in range(5):
            obs, *_ = env.step(trained.predict(obs))
        trained.env.send(actions)
        trained.env.recv()
    finally:
        trained.close()


def test_predict_clips_continuous_actions_into_the_action_space(tmp_path):
    """A Gaussian policy's samples (here std e^2) came back outside Pendulum's [-2, 2]; SB3's predict clips them."""
    from rlkit.agents.ppo.network import build_network
    from rlkit.config import config_to_dict, load_config
    from rlkit.evaluate import load_trained

    config = load_config(ROOT / "configs/pendulum_ppo.yaml", ["torch_threads=0", "agent.init_log_std=2.0"])
    space = gymnasium.make("Pendulum-v1")
    net = build_network(config, space.observation_space, space.action_space)
    torch.save({"step": 7, "config": config_to_dict(config), "learner": {"net": net.state_dict()}}, tmp_path / "step_7.pt")
    trained = load_trained(tmp_path / "step_7.pt", ["env.num_envs=64"])
    try:
        actions = trained.predict(trained.env.reset(seed=trained.seed))
    finally:
        trained.close()
    assert actions.shape == (64, 1) and actions.dtype == np.float32
    assert actions.min() == -2.0 and actions.max() == 2.0  # some at each bound, none past it


def test_load_trained_leaves_the_process_as_it_found_it_once_closed(tmp_path):
    """The config's torch_threads stayed set for the whole process after close; one override given as
    a string was read letter by letter ("'e': unknown key e")."""
    from rlkit.evaluate import load_trained

    before = torch.get_num_threads()
    trained = load_trained(cartpole_checkpoint(tmp_path / "step_7.pt", f"torch_threads={before + 1}"),
                           "env.num_envs=2")
    assert (torch.get_num_threads(), trained.env.num_envs) == (before + 1, 2)
    trained.close()
    assert torch.get_num_threads() == before


def test_trained_objects_closed_out_of_order_give_back_the_first_thread_count(tmp_path):
    """Closing the first of two loaded checkpoints set its saved count while the second was open, and
    closing the second then left the first one's torch_threads for good."""
    from rlkit.evaluate import load_trained

    before = torch.get_num_threads()
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = load_trained(cartpole_checkpoint(tmp_path / "a/step_7.pt", f"torch_threads={before + 1}"), "env.num_envs=1")
    second = load_trained(cartpole_checkpoint(tmp_path / "b/step_7.pt", f"torch_threads={before + 2}"), "env.num_envs=1")
    assert torch.get_num_threads() == before + 2
    first.close()
    assert torch.get_num_threads() == before + 2  # the open one's count stays
    first.close()  # twice: no effect
    assert torch.get_num_threads() == before + 2
    second.close()
    assert torch.get_num_threads() == before


def test_closing_the_newest_of_three_trained_objects_gives_the_newest_still_open_its_count(tmp_path):
    """Not the oldest open one's count, nor the one from before loading."""
    from rlkit.evaluate import load_trained

    before = torch.get_num_threads()
    opened = []
    for extra in (1, 2, 3):
        (tmp_path / str(extra)).mkdir()
        opened.append(load_trained(cartpole_checkpoint(tmp_path / f"{extra}/step_7.pt",
                                                       f"torch_threads={before + extra}"), "env.num_envs=1"))
    opened[2].close()
    assert torch.get_num_threads() == before + 2
    for trained in opened[:2]:
        trained.close()
    assert torch.get_num_threads() == before


def test_the_thread_count_is_given_back_when_closing_the_env_or_loading_the_policy_fails(tmp_path, monkeypatch):
    """The count a checkpoint's torch_threads set is restored whichever way a Trained object ends."""
    from types import SimpleNamespace

    from rlkit.errors import UserError
    from rlkit.evaluate import load_trained

    before = torch.get_num_threads()
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    trained = load_trained(cartpole_checkpoint(tmp_path / "a/step_7.pt", f"torch_threads={before + 1}"),
                           "env.num_envs=1")
    close = trained.env.close

    def failing_close() -> None:
        close()
        raise OSError("an emulator that will not close")

    trained.env.close = failing_close
    with pytest.raises(OSError):
        trained.close()
    assert torch.get_num_threads() == before
    def no_policy(*args: object, **kwargs: object) -> None:
        raise UserError("the policy cannot be made")

    monkeypatch.setattr("rlkit.evaluate.agent_module", lambda algo: SimpleNamespace(policy=no_policy))
    with pytest.raises(UserError):
        load_trained(cartpole_checkpoint(tmp_path / "b/step_7.pt", f"torch_threads={before + 1}"))
    assert torch.get_num_threads() == before


def test_a_checkpoints_env_module_is_imported_only_when_the_user_names_it(tmp_path, monkeypatch):
    """A checkpoint is data, never code: env.id 'this:CartPole-v1' printed the Zen of Python on loading, and
    any installed module a checkpoint named was imported (run) the same way."""
    import sys

    from rlkit.errors import UserError
    from rlkit.evaluate import load_trained

    (tmp_path / "rlkit_eval_envs.py").write_text(
        "import gymnasium\n"
        "gymnasium.register('RlkitEvalPole-v0', entry_point='gymnasium.envs.classic_control.cartpole:CartPoleEnv')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    env_id = "rlkit_eval_envs:RlkitEvalPole-v0"
    path = cartpole_checkpoint(tmp_path / "step_7.pt", f"env.id={env_id}")
    try:
        with pytest.raises(UserError) as error:
            load_trained(path)
        assert str(error.value) == (f"{path}: its env.id {env_id} would import rlkit_eval_envs, and rlkit imports no code "
                                    f"that a checkpoint names: give env.id={env_id} to import it (or import "
                                    "rlkit_eval_envs before load_trained)")
        assert "rlkit_eval_envs" not in sys.modules
        with pytest.raises(UserError, match=r"'env.id=CartPole-v1': evaluate takes env.\* .*\(env.id is fixed by the checkpoint\)$"):
            load_trained(path, ["env.id=CartPole-v1"])
        trained = load_trained(path, [f"env.id={env_id}"])  # named by the user: imported
        trained.close()
        trained = load_trained(path)  # imported already: nothing new runs
        trained.close()
    finally:
        gymnasium.registry.pop("RlkitEvalPole-v0", None)
        sys.modules.pop("rlkit_eval_envs", None)


def test_a_checkpoint_without_a_learner_state_is_one_line(tmp_path):
    """A file holding a config but no learner state raised a KeyError deep in the agent's policy()."""
    from rlkit.errors import UserError
    from rlkit.evaluate import load_trained

    path = cartpole_checkpoint(tmp_path / "step_7.pt", learner=False)
    with pytest.raises(UserError) as error:
        load_trained(path)
    assert str(error.value) == f"{path}: not an rlkit checkpoint (it holds no config or learner state)"


def test_a_checkpoint_with_weights_that_are_not_finite_is_one_line(tmp_path):
    """NaN weights (a damaged or foreign file: training never saves them) played on silently and
    reported the returns of a broken network."""
    from rlkit.errors import UserError
    from rlkit.evaluate import load_trained

    path = cartpole_checkpoint(tmp_path / "step_7.pt")
    state = torch.load(path, weights_only=True)
    state["learner"]["q_net"]["head.bias"][0] = float("nan")
    torch.save(state, path)
    with pytest.raises(UserError) as error:
        load_trained(path)
    assert str(error.value) == f"{path}: learner.q_net.head.bias holds NaN or infinity, which no rlkit checkpoint does"


def test_the_largest_31_bit_seed_and_how_to_play_are_accepted():
    """--seed 2147483647 is the emulators' last seed; torch_threads, device and env.* change how it plays."""
    from rlkit.errors import UserError
    from rlkit.evaluate import check_overrides, check_seed

    check_seed(2**31 - 1, "--seed")
    with pytest.raises(UserError, match=r"^--seed: 2147483648 is outside 0\.\.2147483647"):
        check_seed(2**31, "--seed")
    check_overrides(["torch_threads=2", "device=cpu", "env.num_envs=3", "env.sticky_actions=0.25"])


def test_an_ascii_only_stdout_gets_plus_minus_and_escaped_names(tmp_path):
    """Under PYTHONIOENCODING=ascii (or LC_ALL=C with PYTHONUTF8=0) the '±' of the summary, and a path
    with 'é' in it, were UnicodeEncodeError tracebacks after all the episodes were played."""
    folder = tmp_path / "é"
    folder.mkdir()
    checkpoint = cartpole_checkpoint(folder / "step_7.pt")
    result = subprocess.run([sys.executable, "-P", "-m", "rlkit.cli", "evaluate", str(checkpoint), "--episodes", "2"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{tmp_path}/\\xe9/step_7.pt: dqn on CartPole-v1")
    assert re.fullmatch(r"return [\d.]+ \+/- [\d.]+ \(min \d+, max \d+\) over 2 episodes; length [\d.]+ \+/- .* steps",
                        lines[-1])


def test_an_evaluation_whose_reader_goes_away_stops_quietly(tmp_path):
    """`rlkit evaluate ... | head -1` printed a BrokenPipeError traceback."""
    checkpoint = cartpole_checkpoint(tmp_path / "step_7.pt")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, "-P", "-m", "rlkit.cli", "evaluate", str(checkpoint)],
                                stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")  # as a process that SIGPIPE ended
