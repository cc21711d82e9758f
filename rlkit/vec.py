"""The vector-environment contract between adapters (envs/) and the rollout engine (rlkit/rollout.py).

Every adapter's `make_vec(cfg)` returns an object with this shape. Environments auto-reset in the
same step an episode ends: `obs` already holds the new episode's first observation and
`final_obs` holds the last observation of the one that ended, so no transition ever crosses an
episode boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import gymnasium as gym
import numpy as np


@dataclass
class VecStep:
    """What one step of N environments returns; every array has leading dimension N."""

    obs: np.ndarray  # next observations (a new episode's first one where `reset`)
    reward: np.ndarray  # float32 reward for learning (clipped where the adapter is told to)
    terminated: np.ndarray  # bool: no bootstrap (a game over; a life loss when so configured)
    truncated: np.ndarray  # bool: cut by a time limit; bootstrap from final_obs
    reset: np.ndarray  # bool: the environment started a new episode in this step
    final_obs: np.ndarray  # last observation of the ended episode; rows valid only where `reset`
    # Whole finished episodes (true, unclipped game score over all lives), for logging only.
    episode_returns: list[float] = field(default_factory=list)
    episode_lengths: list[int] = field(default_factory=list)


class VecEnv(Protocol):
    """N environments stepped together: batched numpy arrays in, batched numpy arrays out."""

    num_envs: int
    single_observation_space: gym.Space
    single_action_space: gym.Space

    def reset(self, seed: int) -> np.ndarray:
        """Reset all environments; environment i is seeded with `seed + i`. Returns observations."""
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


class EpisodeTracker:
    """Sums true (unclipped) rewards per environment and reports whole episodes when they end."""

    def __init__(self, num_envs: int):
        self.returns = np.zeros(num_envs, dtype=np.float64)
        self.lengths = np.zeros(num_envs, dtype=np.int64)

    def update(self, rewards: np.ndarray, episode_over: np.ndarray) -> tuple[list[float], list[int]]:
        """Add one step; return (returns, lengths) of the episodes that ended in it."""
        self.returns += rewards
        self.lengths += 1
        done = np.flatnonzero(episode_over)
        finished = (self.returns[done].tolist(), self.lengths[done].tolist())
        self.returns[done] = 0.0
        self.lengths[done] = 0
        return finished
