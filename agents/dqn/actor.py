"""DQN actor: epsilon-greedy over one batched Q forward pass for all environments."""

from __future__ import annotations

import numpy as np
import torch

from rlkit.agents.dqn.network import QNetwork


def linear_epsilon(step: int, start: float, end: float, duration: float) -> float:
    """Anneal linearly from `start` to `end` over `duration` steps, then hold."""
    if duration <= 0:
        return end
    return start + (end - start) * min(step / duration, 1.0)


class EpsilonGreedyActor:
    """Acts for N envs at once. Holds its own network reference so it can live in another process."""

    def __init__(self, q_net: QNetwork, num_actions: int, seed: int):
        self.q_net = q_net
        self.num_actions = num_actions
        self.rng = np.random.default_rng(seed)

    @torch.inference_mode()
    def act(self, obs: torch.Tensor, epsilon: float) -> np.ndarray:
        """Greedy actions, each replaced by a uniform one with probability epsilon."""
        n = obs.shape[0]
        explore = self.rng.random(n) < epsilon
        random_actions = self.rng.integers(0, self.num_actions, n)
        if explore.all():
            return random_actions
        greedy = self.q_net(obs).argmax(dim=1).cpu().numpy()
        return np.where(explore, random_actions, greedy)

    def set_weights(self, state_dict: dict) -> None:
        """For a remote actor: load the learner's newest weights."""
        self.q_net.load_state_dict(state_dict)
