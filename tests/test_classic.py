"""The gymnasium adapter (envs/classic.py): what it accepts, what it refuses, and what it hands the agents."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rlkit.config import EnvConfig
from rlkit.envs.classic import ClassicVec
from rlkit.errors import UserError
from rlkit.vec import env_seeds


class TinyEnv(gym.Env):
    """A 3-step episode with a configurable observation space; records every action it is given and
    every observation it returns."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space):
        self.observation_space, self.action_space = observation_space, action_space
        self.actions: list = []
        self.observations: list = []
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.observations.append(self.observation_space.sample())
        return self.observations[-1], {}

    def step(self, action):
        self.actions.append(action)
        self.t += 1
        self.observations.append(self.observation_space.sample())
        return self.observations[-1], 1.0, self.t == 3, False, {}


def register(name: str, observation_space: gym.Space, action_space: gym.Space = gym.spaces.Discrete(2),
             time_limit: int | None = None) -> str:
    env_id = f"RlkitTest{name}-v0"
    if env_id not in gym.registry:
        gym.register(env_id, lambda: TinyEnv(observation_space, action_space), max_episode_steps=time_limit)
    return env_id


def test_images_are_refused_with_a_pointer_to_the_atari_adapter():
    env_id = register("Image", gym.spaces.Box(0, 255, (96, 96, 3), np.uint8))
    with pytest.raises(UserError, match=f"env.id: {env_id} .*images.*Atari adapter"):
        ClassicVec(EnvConfig(id=env_id, num_envs=1))


def test_scalar_observations_are_refused():
    env_id = register("Scalar", gym.spaces.Box(-1.0, 1.0, (), np.float32))
    with pytest.raises(UserError, match="not scalars"):
        ClassicVec(EnvConfig(id=env_id, num_envs=1))


def test_float64_observations_come_out_float32_as_the_space_says():
    env_id = register("Float64", gym.spaces.Box(-1.0, 1.0, (2, 3), np.float64))
    env = ClassicVec(EnvConfig(id=env_id, num_envs=2))
    assert env.single_observation_space.dtype == np.float32
    assert env.reset(seed=0).dtype == np.float32
    env.send(np.zeros(2, dtype=np.int64))
    step = env.recv()
    assert step.obs.dtype == step.final_obs.dtype == np.float32 and step.obs.shape == (2, 2, 3)
    assert env.frame_stack == 1  # a 2-D array is one observation, not a stack of frames
    env.close()


def test_discrete_actions_with_an_offset_reach_the_env_shifted():
    """Agents pick 0..n-1; an env whose actions are 5, 6, 7 must receive those, never 0."""
    env_id = register("Offset", gym.spaces.Box(-1.0, 1.0, (2,), np.float32), gym.spaces.Discrete(3, start=5))
    env = ClassicVec(EnvConfig(id=env_id, num_envs=2))
    assert env.single_action_space == gym.spaces.Discrete(3)
    env.reset(seed=0)
    env.send(np.array([0, 2]))
    env.recv()
    received = [int(sub.unwrapped.actions[-1]) for sub in env.envs.envs]
    assert received == [5, 7]
    env.close()


def test_2d_uint8_observations_are_refused_as_images_too():
    """A grayscale frame (H, W) is an image as much as an RGB one: an MLP would get it unscaled."""
    env_id = register("Gray", gym.spaces.Box(0, 255, (84, 84), np.uint8))
    with pytest.raises(UserError, match=f"env.id: {env_id} .*images.*Atari adapter"):
        ClassicVec(EnvConfig(id=env_id, num_envs=1))


def test_continuous_actions_are_clipped_into_the_action_bounds():
    """A Gaussian policy samples past the bounds; the env must only ever get actions inside them."""
    env_id = register("Continuous", gym.spaces.Box(-1.0, 1.0, (2,), np.float32),
                      gym.spaces.Box(-1.0, 2.0, (2,), np.float32))
    env = ClassicVec(EnvConfig(id=env_id, num_envs=2))
    env.reset(seed=0)
    env.send(np.array([[3.0, -5.0], [0.5, -0.25]], dtype=np.float32))
    env.recv()
    received = [sub.unwrapped.actions[-1].tolist() for sub in env.envs.envs]
    assert received == [[2.0, -1.0], [0.5, -0.25]]
    env.close()


@pytest.mark.parametrize("limit, last_step", [(2, (False, True, True)), (3, (True, False, True))])
def test_a_time_limit_ends_an_episode_truncated_unless_it_terminates_on_that_step(limit, last_step):
    """TinyEnv terminates at its 3rd step and never truncates itself. A 2-step TimeLimit ends it
    truncated (PPO bootstraps it), not terminated; a 3-step one flags both on the 3rd step, and then it
    is terminated only: passing truncated on would make PPO bootstrap a terminal state."""
    env = ClassicVec(EnvConfig(id=register(f"TimeLimit{limit}", gym.spaces.Box(-1.0, 1.0, (2,), np.float32),
                                           time_limit=limit), num_envs=1))
    env.reset(seed=0)
    steps = []
    for _ in range(limit):
        env.send(np.zeros(1, dtype=np.int64))
        steps.append(env.recv())
    env.close()
    assert [(s.terminated[0], s.truncated[0], s.reset[0]) for s in steps] == [(False, False, False)] * (limit - 1) + [
        last_step]
    assert (steps[-1].episode_returns, steps[-1].episode_lengths) == ([float(limit)], [limit])


def test_an_ended_episode_gives_its_last_observation_as_final_obs_and_the_new_one_as_obs():
    """Same-step reset: `obs` must be the new episode's first observation, `final_obs` the ended one's last."""
    env_id = register("FinalObs", gym.spaces.Box(-1.0, 1.0, (2,), np.float32))
    env = ClassicVec(EnvConfig(id=env_id, num_envs=2))
    env.reset(seed=0)
    for _ in range(3):  # TinyEnv ends at its 3rd step
        env.send(np.zeros(2, dtype=np.int64))
        step = env.recv()
    assert step.reset.tolist() == [True, True]
    for i, sub in enumerate(env.envs.envs):
        last, first = sub.unwrapped.observations[-2:]  # the 3rd step's observation, then the reset's
        np.testing.assert_array_equal(step.final_obs[i], last)
        np.testing.assert_array_equal(step.obs[i], first)
    env.close()


def test_a_reset_starts_the_episode_totals_afresh():
    """One step, then reset (as a resumed run or an evaluation does): the next episode counts from zero."""
    env_id = register("Totals", gym.spaces.Box(-1.0, 1.0, (2,), np.float32))
    env = ClassicVec(EnvConfig(id=env_id, num_envs=1))
    env.reset(seed=0)
    env.send(np.zeros(1, dtype=np.int64))
    env.recv()
    env.reset(seed=1)
    for _ in range(3):
        env.send(np.zeros(1, dtype=np.int64))
        step = env.recv()
    env.close()
    assert (step.episode_returns, step.episode_lengths) == ([3.0], [3])


@pytest.mark.parametrize("env_id, message", [
    ("Taxi-v3", "env.id: Environment version v3 for `Taxi` is deprecated. Please use `Taxi-v4` instead."),
    ("BreakoutNoFrameskip-v4", "env.id: 'BreakoutNoFrameskip-v4' is an old-style Atari id (gymnasium's, with no "
                               "rlkit preprocessing); rlkit's Atari adapter takes ALE/Name-v5 ids: did you mean "
                               "ALE/Breakout-v5?"),
    ("Pong-v4", "did you mean ALE/Pong-v5?"),
    ("Breakout", "env.id: unknown environment 'Breakout' (not an ALE/Name-v5 game nor a gymnasium id); did you "
                 "mean ALE/Breakout-v5?"),
    ("cartpole-v1", "env.id: unknown environment 'cartpole-v1' (not an ALE/Name-v5 game nor a gymnasium id); did "
                    "you mean CartPole-v1?"),  # gymnasium's own "Did you mean" was dropped
    ("CartPole-v2", "did you mean CartPole-v1?"),
    ("CartPole", "did you mean CartPole-v1?"),  # gymnasium.make takes it (the newest version), gymnasium.spec not
    ("mountaincarcontinuous", "did you mean MountainCarContinuous-v0?"),
    (":CartPole-v1", "env.id: :CartPole-v1: '' is not a module name (module:Name-v0 imports the module that "
                     "registers Name-v0)"),  # a ValueError's traceback from importlib ("Empty module name")
    (".envs:CartPole-v1", "'.envs' is not a module name"),  # a TypeError's (a relative import)
])
def test_ids_that_are_no_classic_env_say_what_to_use(env_id, message):
    """Asked twice: importing ale_py (the first time) registers the old Atari ids, which then passed
    as gymnasium ids and lost the hint; a deprecated id was called unknown."""
    from rlkit.envs import check_env_id

    for _ in range(2):
        with pytest.raises(UserError) as error:
            check_env_id(EnvConfig(id=env_id))
        assert message in str(error.value)


def test_a_module_id_imports_the_module_that_registers_the_env(tmp_path, monkeypatch):
    """gymnasium.make's `module:Name-v0` (a user's own environment) was refused as an unknown environment."""
    from rlkit.envs import check_env_id

    (tmp_path / "rlkit_test_envs.py").write_text(
        "import gymnasium\n"
        "gymnasium.register('RlkitShortPole-v0', entry_point='gymnasium.envs.classic_control.cartpole:CartPoleEnv', "
        "max_episode_steps=5)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        check_env_id(EnvConfig(id="rlkit_test_envs:RlkitShortPole-v0"))
        env = ClassicVec(EnvConfig(id="rlkit_test_envs:RlkitShortPole-v0", num_envs=1))
        env.reset(seed=0)
        for _ in range(5):
            env.send(np.zeros(1, dtype=np.int64))
            step = env.recv()
        env.close()
        assert step.episode_lengths == [5] and step.truncated[0]
        with pytest.raises(UserError) as error:
            check_env_id(EnvConfig(id="rlkit_no_such_module:RlkitShortPole-v0"))
        assert str(error.value) == ("env.id: rlkit_no_such_module:RlkitShortPole-v0: cannot import rlkit_no_such_module, "
                                    "which should register RlkitShortPole-v0 (No module named 'rlkit_no_such_module')")
    finally:
        gym.registry.pop("RlkitShortPole-v0", None)


def test_atari_settings_set_for_a_gymnasium_env_are_named_as_unused(capsys):
    """They were accepted and dropped silently (agent.* keys a network does not use were warned of already)."""
    ClassicVec(EnvConfig(id="CartPole-v1", sticky_actions=0.25, frame_skip=7)).close()
    assert capsys.readouterr().err.splitlines() == [
        "warning: env.frame_skip=7 is not used: it is Atari preprocessing, and this is a gymnasium environment",
        "warning: env.sticky_actions=0.25 is not used: it is Atari preprocessing, and this is a gymnasium environment"]
    ClassicVec(EnvConfig(id="CartPole-v1")).close()
    assert capsys.readouterr().err == ""


def test_consecutive_seeds_share_no_env_stream():
    """With seed + i, env 1 of seed 1 replayed env 0 of seed 2's episodes (a seed sweep was a few streams
    reshuffled); env 0 keeps the seed itself, so a one-env run plays as before."""
    firsts = {}
    for seed in (1, 2):
        env = ClassicVec(EnvConfig(id="CartPole-v1", num_envs=2))
        firsts[seed] = env.reset(seed=seed)
        env.close()
    assert not np.array_equal(firsts[1][1], firsts[2][0])
    single, _ = gym.make("CartPole-v1").reset(seed=2)
    np.testing.assert_array_equal(firsts[2][0], single.astype(np.float32))
    assert len(set(env_seeds(7, 64))) == 64 and env_seeds(7, 3)[0] == 7
    assert max(env_seeds(2**31 - 1, 8)) < 2**31  # the emulators take signed 32-bit seeds
