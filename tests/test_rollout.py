"""The rollout engine, the per-env episode bookkeeping and the PPO storage's memory estimate, on fake envs."""

import time

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlkit.storage
import rlkit.vec
from conftest import EpisodeEndsEnv
from rlkit.config import EnvConfig
from rlkit.envs import make_vec
from rlkit.rollout import Rollout
from rlkit.storage import RolloutStorage
from rlkit.vec import EpisodeTracker


def test_a_transition_pairs_the_observations_acted_on_with_the_actions_and_obs_moves_on():
    """The replay stores (obs, action) pairs from transitions: pairing an action with the observation
    after it, or with a stale one, would teach the wrong Q-values. EpisodeEndsEnv's obs are [t, env]."""
    rollout = Rollout(EpisodeEndsEnv(), torch.device("cpu"), seed=0)
    torch.testing.assert_close(rollout.obs, torch.tensor([[0.0, 0.0], [0.0, 1.0], [0.0, 2.0]]))
    for t, actions in enumerate([torch.tensor([1, 0, 1]), np.array([0, 1, 1])]):
        rollout.send(actions)
        transition = rollout.recv()
        np.testing.assert_array_equal(transition.obs, [[t, 0], [t, 1], [t, 2]])
        np.testing.assert_array_equal(transition.actions, np.asarray(actions))
        assert isinstance(transition.actions, np.ndarray)
        np.testing.assert_array_equal(transition.step.obs, [[t + 1, 0], [t + 1, 1], [t + 1, 2]])
        torch.testing.assert_close(rollout.obs, torch.from_numpy(transition.step.obs))


class SlowEnv(EpisodeEndsEnv):
    """EpisodeEndsEnv whose `recv` takes 20 ms."""

    def recv(self):
        time.sleep(0.02)
        return super().recv()


def test_phase_times_add_up_over_steps():
    """perf/act_seconds and perf/env_seconds are running totals: each call adds to them."""
    rollout = Rollout(SlowEnv(), torch.device("cpu"), seed=0)
    for _ in range(3):
        actions = rollout.timed_act(lambda obs: (time.sleep(0.02), np.zeros(len(obs), np.int64))[1], rollout.obs)
        rollout.send(actions)
        rollout.recv()
    assert rollout.seconds["act"] >= 0.06 and rollout.seconds["env"] >= 0.06


def test_episode_tracker_reports_only_the_envs_that_ended_in_env_order():
    """Returns and lengths come out packed, one per ended env in env order, whichever envs ended."""
    tracker = EpisodeTracker(3)
    assert tracker.update(np.array([1.0, 2.0, 3.0]), np.array([False, True, False])) == ([2.0], [1])
    assert tracker.update(np.array([1.0, 1.0, 1.0]), np.array([True, False, True])) == ([2.0, 4.0], [2, 2])
    assert tracker.update(np.array([0.0, 0.5, 0.0]), np.array([False, True, False])) == ([1.5], [2])


def test_episode_tracker_makes_its_compiled_call_when_made_with_no_envs(monkeypatch):
    """Numba loads (on a fresh install, compiles) `_add_step` at its first call, 0.3-5 s: the tracker
    makes that call for its reward dtype when made, while the env is set up, so the first training step
    (and with it the first perf/sps point of each start and resume) does not pay for it."""
    calls = []
    real = rlkit.vec._add_step
    monkeypatch.setattr(rlkit.vec, "_add_step", lambda *args: calls.append(args) or real(*args))
    tracker = EpisodeTracker(3, np.float32)
    assert [[a.dtype for a in args] for args in calls] == [[np.float64, np.int64, np.float32, bool, np.float64,
                                                            np.int64]]
    assert all(a.shape == (0,) for a in calls[0])
    # the call changed no totals
    assert tracker.update(np.array([1, 2, 3], np.float32), np.array([True, False, False])) == ([1.0], [1])


@pytest.mark.parametrize("env_id", ["CartPole-v1", "ALE/Pong-v5"])
def test_the_first_step_of_an_env_needs_no_compiled_call_of_its_own(env_id):
    """Each adapter makes its tracker for the rewards it counts (gymnasium's float64, ale-py's float32 scores),
    so numba's first load of `_add_step` falls in making the env, not in the first training step."""
    env = make_vec(EnvConfig(id=env_id, num_envs=2))
    try:
        env.reset(seed=0)
        compiled = list(rlkit.vec._add_step.signatures)
        env.send(np.zeros(2, np.int64))
        env.recv()
        assert rlkit.vec._add_step.signatures == compiled
    finally:
        env.close()


def test_rollout_storage_checks_memory_for_every_step_and_env(monkeypatch):
    """Per transition: the observation's bytes, an int64 action, six float32 columns; 5 steps x 3 envs of
    (4, 84, 84) uint8 frames: 15 * (28224 + 8 + 24) bytes."""
    asked = []
    monkeypatch.setattr(rlkit.storage, "require_memory", lambda nbytes, *args: asked.append(nbytes))
    RolloutStorage(5, 3, gym.spaces.Box(0, 255, (4, 84, 84), np.uint8), gym.spaces.Discrete(6), torch.device("cpu"))
    assert asked == [15 * (4 * 84 * 84 + 8 + 6 * 4)]
