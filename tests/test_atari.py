"""Atari adapter: shapes, reward clipping for learning only, life loss as terminal, whole-game returns."""

import numpy as np
import pytest

from conftest import run_cli
from rlkit.config import EnvConfig
from rlkit.envs import make_vec
from rlkit.errors import UserError
from rlkit.envs.atari import _split_step, ale_id_for, rom_name


def play(env, steps, seed=0):
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        env.send(rng.integers(0, env.single_action_space.n, env.num_envs))
        yield env.recv()


def test_ids_map_to_shipped_roms():
    assert rom_name("ALE/Pong-v5") == "pong"
    assert rom_name("ALE/MontezumaRevenge-v5") == "montezuma_revenge"
    assert rom_name("ALE/TicTacToe3D-v5") == "tic_tac_toe_3d"  # a digit inside the name
    with pytest.raises(UserError, match="unknown Atari game"):
        rom_name("ALE/Pongg-v5")
    with pytest.raises(UserError, match="ALE/Name-v5"):
        rom_name("ALE/Pong")
    with pytest.raises(UserError, match=r"ships no ROM named pong\); did you mean ALE/Pong-v5\?"):
        rom_name("ALE/pong-v5")
    with pytest.raises(UserError, match=r"of the form ALE/Name-v5; did you mean ALE/Pong-v5\?"):
        rom_name("ALE/Pong-v4")  # a wrong version, an old-style name or a ROM name gets a hint too
    with pytest.raises(UserError, match=r"of the form ALE/Name-v5; did you mean ALE/MsPacman-v5\?"):
        rom_name("ALE/ms_pacman-v5")
    with pytest.raises(UserError, match=r"of the form ALE/Name-v5$"):
        rom_name("ALE/Pong-ram-v5")


@pytest.mark.parametrize("name,guess", [
    ("Pong", "ALE/Pong-v5"), ("pong", "ALE/Pong-v5"), ("PongNoFrameskip-v4", "ALE/Pong-v5"),
    ("BreakoutDeterministic-v4", "ALE/Breakout-v5"), ("TicTacToe3D", "ALE/TicTacToe3D-v5"),
    ("ALE/Pong-v4", "ALE/Pong-v5"), ("ale/pong-v5", "ALE/Pong-v5"), ("ALE/PongNoFrameskip-v4", "ALE/Pong-v5"),
    ("ms_pacman", "ALE/MsPacman-v5"), ("ALE/montezuma_revenge-v5", "ALE/MontezumaRevenge-v5"),
    ("Breakout-ram-v4", None),  # the adapter gives pixels: a RAM id gets no pixel suggestion
    ("Chess", None),
])
def test_misspelled_atari_ids_get_the_v5_suggestion(name, guess):
    assert ale_id_for(name) == guess


def test_observations_are_stacked_84x84_grayscale_zero_padded_at_reset():
    env = make_vec(EnvConfig(id="ALE/Pong-v5", num_envs=3))
    obs = env.reset(seed=1)
    assert obs.shape == (3, 4, 84, 84) and obs.dtype == np.uint8
    assert (obs[:, :3] == 0).all() and obs[:, 3].mean() > 0  # only the newest frame at reset
    step = next(play(env, 1))
    np.testing.assert_array_equal(step.obs[:, :3], obs[:, 1:])  # the stack shifts by one frame
    assert env.frame_stack == 4  # so a replay stores each frame once
    assert env.single_action_space.n == 6
    env.close()


def test_the_full_action_space_gives_all_18_joystick_actions():
    env = make_vec(EnvConfig(id="ALE/Pong-v5", num_envs=2, full_action_space=True))
    assert env.single_action_space.n == 18  # Pong's minimal set has 6
    env.reset(seed=0)
    env.send(np.full(2, 17))  # DOWNLEFTFIRE, outside the minimal set, is playable
    assert env.recv().obs.shape == (2, 4, 84, 84)
    env.close()


def test_rewards_are_clipped_for_learning_but_returns_are_true_scores():
    env = make_vec(EnvConfig(id="ALE/SpaceInvaders-v5", num_envs=2, clip_rewards=True))
    positives, returns = 0, []
    for step in play(env, 2500):
        assert set(np.unique(step.reward)) <= {-1.0, 0.0, 1.0}
        positives += int((step.reward > 0).sum())
        returns += step.episode_returns
    assert returns, "random play must finish a game"
    assert max(returns) > 1 and sum(returns) > positives  # invaders are worth 5 to 30 points
    env.close()


def test_life_loss_is_terminal_for_learning_and_the_game_plays_on():
    env = make_vec(EnvConfig(id="ALE/Breakout-v5", num_envs=1, terminal_on_life_loss=True))
    life_losses, games = 0, []
    for step in play(env, 3000, seed=3):
        if step.terminated[0] and not step.reset[0]:
            life_losses += 1
            assert step.obs[0, :3].any(), "a life loss must not reset the frame stack"
        games += step.episode_returns
    # 5 lives: exactly 4 losses without a reset in each finished game, at most 4 in the unfinished one
    assert games and 4 * len(games) <= life_losses <= 4 * len(games) + 4
    env.close()

    env = make_vec(EnvConfig(id="ALE/Breakout-v5", num_envs=1, terminal_on_life_loss=False))
    steps = list(play(env, 1500, seed=3))
    assert all(s.terminated[0] == s.reset[0] for s in steps if not s.truncated[0])
    env.close()


def test_final_observation_is_the_last_frame_of_the_ended_game():
    env = make_vec(EnvConfig(id="ALE/Breakout-v5", num_envs=2, terminal_on_life_loss=False))
    previous = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(3000):
        env.send(rng.integers(0, 4, 2))
        step = env.recv()
        for i in np.flatnonzero(step.reset):
            np.testing.assert_array_equal(step.final_obs[i, :3], previous[i, 1:])
            assert (step.obs[i, :3] == 0).all()
            return
        previous = step.obs
    pytest.fail("no game ended")


def test_sticky_actions_change_play():
    def trajectory(sticky):
        env = make_vec(EnvConfig(id="ALE/Breakout-v5", num_envs=1, sticky_actions=sticky))
        frames = [s.obs[0, -1].copy() for s in play(env, 200, seed=5)]
        env.close()
        return np.stack(frames)

    assert np.array_equal(trajectory(0.0), trajectory(0.0))  # seeded and deterministic
    assert not np.array_equal(trajectory(0.0), trajectory(0.25))


def test_fire_on_reset_launches_the_ball():
    """Breakout waits for FIRE; the adapter presses it on reset, so doing nothing still loses a life."""
    env = make_vec(EnvConfig(id="ALE/Breakout-v5", num_envs=1, terminal_on_life_loss=True))
    env.reset(seed=0)
    for _ in range(200):
        env.send(np.zeros(1, dtype=np.int64))  # NOOP only
        if env.recv().terminated[0]:
            break
    else:
        pytest.fail("the ball was never launched")
    env.close()


def test_noop_resets_vary_the_start():
    def distinct_starts(noop_max):
        env = make_vec(EnvConfig(id="ALE/Breakout-v5", num_envs=8, noop_max=noop_max))
        obs = env.reset(seed=0)
        env.close()
        return len({frame.tobytes() for frame in obs[:, -1]})

    assert distinct_starts(0) == 1  # a deterministic game starts the same everywhere
    assert distinct_starts(30) >= 3


@pytest.mark.parametrize("frame_skip", [2, 4])
def test_frame_skip_sets_emulator_frames_per_step_and_the_frame_cap_truncates(frame_skip):
    env = make_vec(EnvConfig(id="ALE/Pong-v5", num_envs=1, frame_skip=frame_skip, noop_max=0,
                             max_episode_frames=400))
    env.reset(seed=0)
    for t in range(1, 1000):
        env.send(np.zeros(1, dtype=np.int64))
        step = env.recv()
        if step.reset[0]:
            break
    env.close()
    assert step.truncated[0] and not step.terminated[0]
    assert step.episode_lengths == [400 // frame_skip] and t == 400 // frame_skip


def test_a_game_that_ends_at_the_frame_cap_is_terminated_not_truncated():
    """A game over on the capped frame is a true terminal: reporting it truncated too would make PPO
    bootstrap from it. Rows: game over at the cap, the cap alone, game over alone, a life lost."""
    game_over, truncated = np.array([True, False, True, False]), np.array([True, True, False, False])
    lives, last_lives = np.array([0, 3, 0, 2], np.int32), np.array([1, 3, 1, 3], np.int32)
    reset, terminated, truncated_out = np.empty(4, bool), np.empty(4, bool), np.empty(4, bool)
    score, learn_reward = np.empty(4, np.float32), np.empty(4, np.float32)
    _split_step(np.array([1.0, 0.0, -2.0, 3.0], np.float32), game_over, truncated, lives, last_lives, True, True,
                reset, terminated, truncated_out, score, learn_reward)
    assert reset.tolist() == [True, True, True, False]
    assert terminated.tolist() == [True, False, True, True]
    assert truncated_out.tolist() == [False, True, False, False]
    assert learn_reward.tolist() == [1.0, 0.0, -1.0, 1.0] and last_lives.tolist() == [0, 3, 0, 2]


def test_episode_tracker_reports_each_episode_once_and_starts_the_next_at_zero():
    from rlkit.vec import EpisodeTracker

    tracker = EpisodeTracker(2)
    assert tracker.update(np.array([1.0, 1.0]), np.array([False, False])) == ([], [])
    assert tracker.update(np.array([2.0, 3.0]), np.array([True, False])) == ([3.0], [2])
    assert tracker.update(np.array([5.0, 5.0]), np.array([True, True])) == ([5.0, 9.0], [1, 3])
    assert tracker.update(np.array([0.5, 0.0]), np.array([True, False])) == ([0.5], [1])


def test_results_that_ale_py_returns_out_of_env_order_are_put_back_in_order():
    """ale-py may return the envs of a step in any order (its info['env_id'] says which is which),
    and then gives the next step's actions[i] to the env of row i: row i must still be env i, with
    its own lives, flags and episode totals, and env i must get the action chosen for row i."""
    config = EnvConfig(id="ALE/Breakout-v5", num_envs=3)  # life losses exercise the per-env lives
    in_order, shuffled = make_vec(config), make_vec(config)
    real_reset, real_recv, real_send = shuffled.ale.reset, shuffled.ale.recv, shuffled.ale.send
    rng = np.random.default_rng(1)
    rows = {}  # the env of each row of the last result ale-py returned

    def reset_out_of_order(**kwargs):
        obs, info = real_reset(**kwargs)
        perm = rows["env_ids"] = rng.permutation(3)
        return obs[perm], {k: v[perm] for k, v in info.items()}

    def recv_out_of_order():
        obs, reward, over, truncated, info = real_recv()
        perm = rows["env_ids"] = rng.permutation(3)
        return obs[perm], reward[perm], over[perm], truncated[perm], {k: v[perm] for k, v in info.items()}

    def send_as_ale_py(actions):  # its C++ send: actions[i] goes to env received_env_ids[i]
        by_env = np.empty_like(actions)
        by_env[rows["env_ids"]] = actions
        real_send(by_env)

    shuffled.ale.reset, shuffled.ale.recv, shuffled.ale.send = reset_out_of_order, recv_out_of_order, send_as_ale_py
    # Breakout's first frames are alike in every env, so reset's reordering is checked on marked rows
    envs_of_rows = np.array([2, 0, 1])
    shuffled.ale.reset = lambda **kwargs: (np.ones((3, 4, 84, 84), np.uint8) * envs_of_rows[:, None, None, None],
                                           {"env_id": envs_of_rows, "lives": envs_of_rows + 10})
    assert [row.max() for row in shuffled.reset(seed=0)] == [0, 1, 2] and shuffled.lives.tolist() == [10, 11, 12]
    shuffled.ale.reset = reset_out_of_order
    lives_lost = 0
    for a, b in zip(play(in_order, 300), play(shuffled, 300)):
        for name in ("obs", "reward", "terminated", "truncated", "reset"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        np.testing.assert_array_equal(a.final_obs[a.reset], b.final_obs[b.reset])  # valid rows only
        assert (a.episode_returns, a.episode_lengths) == (b.episode_returns, b.episode_lengths)
        lives_lost += int((a.terminated & ~a.reset).sum())
    in_order.close()
    shuffled.close()
    assert lives_lost > 0


def test_unclipped_rewards_are_the_game_score_changes():
    env = make_vec(EnvConfig(id="ALE/SpaceInvaders-v5", num_envs=2, clip_rewards=False))
    rewards = np.concatenate([step.reward for step in play(env, 600)])
    env.close()
    assert rewards.max() >= 5  # an invader is worth 5 to 30 points


def test_the_emulators_get_the_standard_dqn_preprocessing(monkeypatch):
    """What no short random play shows: each frame is the max over the last two emulator frames of its
    skip (Atari sprites flicker), FIRE at reset; clipping and life losses are left to the adapter
    (ale-py doing them too would clip the true score and reset on every lost life)."""
    import rlkit.envs.atari as atari

    made = {}
    real = atari.AtariVectorEnv
    monkeypatch.setattr(atari, "AtariVectorEnv",
                        lambda *args, **kwargs: (made.update(kwargs), real(*args, **kwargs))[1])
    make_vec(EnvConfig(id="ALE/Pong-v5", num_envs=1)).close()
    expected = {"maxpool": True, "use_fire_reset": True, "grayscale": True, "img_height": 84, "img_width": 84,
                "reward_clipping": False, "episodic_life": False, "autoreset_mode": "SameStep"}
    assert {key: made[key] for key in expected} == expected


def test_a_reset_starts_the_episode_totals_afresh():
    """Three steps, then reset (as a resumed run or an evaluation does): the next game counts from zero.
    A 40-frame cap at frame skip 4 ends each game after 10 steps."""
    env = make_vec(EnvConfig(id="ALE/Pong-v5", num_envs=1, noop_max=0, max_episode_frames=40))
    steps = list(play(env, 3)) + list(play(env, 10, seed=1))
    env.close()
    assert [s.episode_lengths for s in steps] == [[]] * 12 + [[10]]


def test_more_no_ops_than_an_episode_has_frames_are_refused_before_the_emulators_start(tmp_path):
    """ale-py played env.noop_max=2147483647 no-ops at reset for hours, deaf to Ctrl-C and SIGTERM."""
    with pytest.raises(UserError, match=r"^env.noop_max: 41 no-op frames at each reset are more than an episode's "
                                        r"env.max_episode_frames \(40\)"):
        make_vec(EnvConfig(id="ALE/Pong-v5", noop_max=41, max_episode_frames=40))
    make_vec(EnvConfig(id="ALE/Pong-v5", noop_max=40, max_episode_frames=40)).close()
    result = run_cli("train", "configs/pong_dqn.yaml", "env.noop_max=2147483647", "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 2 and result.stderr.startswith(
        "rlkit train: error: override 'env.noop_max=2147483647' (applied to configs/pong_dqn.yaml): "
        "env.noop_max: 2,147,483,647 no-op")
    assert not (tmp_path / "run").exists()


def test_seeds_past_the_emulators_32_bit_range_wrap_around():
    """A resumed run resets with seed + step, which can pass 2**31: it wraps modulo 2**31 - num_envs."""
    env = make_vec(EnvConfig(id="ALE/Breakout-v5", num_envs=2))
    wrapped = env.reset(seed=2**31 + 5)
    np.testing.assert_array_equal(wrapped, env.reset(seed=(2**31 + 5) % (2**31 - 2)))
    assert not np.array_equal(wrapped, env.reset(seed=8))  # the seed matters: noop starts differ
    env.close()
