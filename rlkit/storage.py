"""On-policy rollout storage: preallocated (steps, envs, ...) tensors on the agent's device, and GAE.

The training loop writes one row per vector step (no per-step Python lists); observations keep
the environment's dtype, so Atari frames stay uint8 (1/4 the memory and copy cost of float32).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from rlkit.memory import require_memory


@dataclass
class Batch:
    """A flat minibatch of transitions for one PPO gradient step."""

    obs: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor


def gae(rewards: torch.Tensor, values: torch.Tensor, ends: torch.Tensor, last_value: torch.Tensor,
        gamma: float, lam: float) -> torch.Tensor:
    """Generalized advantage estimates (Schulman et al. 2016) for (steps, envs) tensors.

    `ends[t]` is 1 where transition t ended an episode for learning (terminated, or truncated with
    its bootstrap already folded into `rewards[t]`): the chain is cut there and `values[t + 1]`,
    which belongs to the next episode, is not used. `last_value` is V of the observation after
    the last step.
    """
    advantages = torch.empty_like(rewards)
    running = torch.zeros_like(last_value)
    next_value = last_value
    for t in range(rewards.shape[0] - 1, -1, -1):
        carry = 1.0 - ends[t]
        delta = rewards[t] + gamma * next_value * carry - values[t]
        running = delta + gamma * lam * carry * running
        advantages[t] = running
        next_value = values[t]
    return advantages


class RolloutStorage:
    """One rollout of `num_steps` vector steps for `num_envs` environments, then its advantages."""

    def __init__(self, num_steps: int, num_envs: int, obs_space: gym.Space, action_space: gym.Space,
                 device: torch.device):
        shape = (num_steps, num_envs)
        obs_dtype = torch.from_numpy(np.zeros(0, dtype=obs_space.dtype)).dtype
        if device.type == "cpu":  # per transition: the observation, the action, six float32 columns
            per_step = (int(np.prod(obs_space.shape)) * np.dtype(obs_space.dtype).itemsize
                        + 8 * int(np.prod(action_space.shape)) + 6 * 4)  # a Discrete shape () gives 1
            require_memory(num_steps * num_envs * per_step, "the rollout storage", "agent.num_steps, env.num_envs")
        # Images (C, H, W) are kept channels-last in memory: minibatches then feed the channels-last
        # CNN without a transposing copy. `obs` is the (steps, envs, C, H, W) view of that memory.
        self.images = len(obs_space.shape) == 3
        c, *rest = obs_space.shape
        layout = (*rest, c) if self.images else tuple(obs_space.shape)
        self._obs_memory = torch.zeros(shape + layout, dtype=obs_dtype, device=device)
        self.obs = self._obs_memory.permute(0, 1, 4, 2, 3) if self.images else self._obs_memory
        if isinstance(action_space, gym.spaces.Discrete):
            self.actions = torch.zeros(shape, dtype=torch.long, device=device)
        else:
            self.actions = torch.zeros(shape + tuple(action_space.shape), dtype=torch.float32, device=device)
        self.logprobs, self.values, self.rewards, self.ends, self.advantages, self.returns = (
            torch.zeros(shape, dtype=torch.float32, device=device) for _ in range(6))
        self.num_steps, self.num_envs, self.device = num_steps, num_envs, device

    def add(self, t: int, obs: torch.Tensor, actions: torch.Tensor, logprobs: torch.Tensor,
            values: torch.Tensor) -> None:
        """Write what was observed and done at vector step `t`."""
        self.obs[t].copy_(obs)
        self.actions[t].copy_(actions)
        self.logprobs[t].copy_(logprobs)
        self.values[t].copy_(values)

    def add_outcome(self, t: int, rewards: np.ndarray, ends: np.ndarray) -> None:
        """Write what the environments returned for step `t`; `ends` = terminated or reset."""
        self.rewards[t].copy_(torch.from_numpy(rewards))
        self.ends[t].copy_(torch.from_numpy(ends))

    def bootstrap(self, t: int, rows: np.ndarray, final_values: torch.Tensor, gamma: float) -> None:
        """Fold gamma * V(final observation) into the rewards of episodes truncated at step `t`."""
        index = torch.from_numpy(rows).to(self.device)
        self.rewards[t].index_add_(0, index, gamma * final_values.to(self.rewards.dtype))

    def compute_advantages(self, last_value: torch.Tensor, gamma: float, lam: float) -> None:
        """GAE(lambda) advantages and the returns (advantage + value) the critic regresses to."""
        self.advantages.copy_(gae(self.rewards, self.values, self.ends, last_value, gamma, lam))
        torch.add(self.advantages, self.values, out=self.returns)

    def minibatches(self, num_minibatches: int) -> Iterator[Batch]:
        """Yield the whole rollout once, shuffled (torch's global RNG) and split into minibatches."""
        size = self.num_steps * self.num_envs
        obs_rows = self._obs_memory.view(size, -1)  # row gathers: ~10x faster than indexing the view
        rest = [x.reshape(size, *x.shape[2:]) for x in
                (self.actions, self.logprobs, self.values, self.advantages, self.returns)]
        order = torch.randperm(size).to(self.device)
        for index in torch.tensor_split(order, num_minibatches):
            obs = obs_rows.index_select(0, index).view(len(index), *self._obs_memory.shape[2:])
            yield Batch(obs.permute(0, 3, 1, 2) if self.images else obs, *(x.index_select(0, index) for x in rest))
