"""The vector-environment contract between adapters (envs/) and the rollout engine (rlkit/rollout.py).

Every adapter (AtariVec, ClassicVec, GoVecEnv) has this shape; `rlkit.envs.make_vec(cfg)` picks
AtariVec or ClassicVec by `env.id` (GoVecEnv is built directly). Environments auto-reset in the
same step an episode ends: `obs` already holds the new episode's first observation and
`final_obs` holds the last observation of the one that ended, so no transition ever crosses an
episode boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import gymnasium as gym
import numpy as np
from numba import njit


@dataclass
class VecStep:
    """What one step of N environments returns; every array has leading dimension N."""

    obs: np.ndarray  # next observations (a new episode's first one where `reset`)
    reward: np.ndarray  # float32 reward for learning (clipped where the adapter is told to)
    terminated: np.ndarray  # bool: no bootstrap (a game over; a life loss when so configured)
    truncated: np.ndarray  # bool: cut by a time limit (never where terminated); bootstrap from final_obs
    reset: np.ndarray  # bool: the environment started a new episode in this step
    final_obs: np.ndarray  # last observation of the ended episode; rows valid only where `reset`
    # Whole finished episodes (true, unclipped game score over all lives), for logging and
    # evaluation: one per env where `reset`, in env order.
    episode_returns: list[float] = field(default_factory=list)
    episode_lengths: list[int] = field(default_factory=list)


class VecEnv(Protocol):
    """N environments stepped together: batched numpy arrays in, batched numpy arrays out."""

    num_envs: int
    single_observation_space: gym.Space
    single_action_space: gym.Space
    # Observations are the last `frame_stack` frames, one per channel along axis 0, shifted by one
    # each step (Atari); 1 for anything else. A replay stores each frame once where this is above 1.
    frame_stack: int

    def reset(self, seed: int) -> np.ndarray:
        """Reset all environments, seeded with `env_seeds(seed, num_envs)`. Returns observations."""
        ...

    def send(self, actions: np.ndarray) -> None:
        """Start a step with one action per environment (may run in background threads)."""
        ...

    def recv(self) -> VecStep:
        """Finish the step started by `send`."""
        ...

    def close(self) -> None:
        """Release threads and emulators."""
        ...


def env_seeds(seed: int, num_envs: int) -> list[int]:
    """Each env's seed: env 0 gets `seed` itself (a one-env run plays as it always did), the others
    31-bit seeds drawn from numpy's SeedSequence(seed), so that env i of seed s no longer plays the
    games of env i - 1 of seed s + 1, as with `seed + i` (SB3's and CleanRL's way)."""
    drawn = np.random.SeedSequence(seed).generate_state(num_envs) >> 1  # the emulators take signed 32-bit seeds
    return [seed, *(int(value) for value in drawn[1:])]


@njit(cache=True, nogil=True)
def _add_step(returns, lengths, rewards, episode_over, ended_returns, ended_lengths):  # pragma: no cover - compiled
    """Add one step to each env's totals; copy out and zero those of episodes that ended. Returns how many ended."""
    ended = 0
    for i in range(returns.shape[0]):
        returns[i] += rewards[i]
        lengths[i] += 1
        if episode_over[i]:
            ended_returns[ended], ended_lengths[ended] = returns[i], lengths[i]
            returns[i], lengths[i] = 0.0, 0
            ended += 1
    return ended


class EpisodeTracker:
    """Sums true (unclipped) rewards per environment and reports whole episodes when they end.

    One compiled call per step: right after the emulators run, each separate numpy call here cost
    10-40 µs of cold-cache time (measured on the 16-env Atari rollout), more than its arithmetic.
    """

    def __init__(self, num_envs: int, reward_dtype: type = np.float64):
        self.returns = np.zeros(num_envs, dtype=np.float64)
        self.lengths = np.zeros(num_envs, dtype=np.int64)
        self._ended_returns = np.empty_like(self.returns)
        self._ended_lengths = np.empty_like(self.lengths)
        # Numba loads (on a fresh install, compiles) the call for `reward_dtype` rewards here, with no
        # envs, so its 0.3-5 s fall in setting up, not in the first training step: there they dragged
        # the first perf/sps point of every start and resume far below the rest of the curve.
        _add_step(self.returns[:0], self.lengths[:0], np.zeros(0, reward_dtype), np.zeros(0, np.bool_),
                  self._ended_returns[:0], self._ended_lengths[:0])

    def update(self, rewards: np.ndarray, episode_over: np.ndarray) -> tuple[list[float], list[int]]:
        """Add one step; return (returns, lengths) of the episodes that ended in it."""
        ended = _add_step(self.returns, self.lengths, rewards, episode_over, self._ended_returns, self._ended_lengths)
        if not ended:
            return [], []
        return self._ended_returns[:ended].tolist(), self._ended_lengths[:ended].tolist()
