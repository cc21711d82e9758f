"""Q-network: a shared torso and a plain or dueling head."""

from __future__ import annotations

import gymnasium as gym
import torch
from torch import nn

from rlkit.agents.networks import make_torso


class QNetwork(nn.Module):
    """Maps observations to one Q-value per action."""

    def __init__(self, obs_space: gym.Space, num_actions: int, hidden: list[int], dueling: bool):
        super().__init__()
        self.torso = make_torso(obs_space, hidden)
        self.dueling = dueling
        self.head = nn.Linear(self.torso.out_features, num_actions + (1 if dueling else 0))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        out = self.head(self.torso(obs))
        if not self.dueling:
            return out
        value, advantage = out[:, :1], out[:, 1:]
        return value + advantage - advantage.mean(dim=1, keepdim=True)
