"""Q-network: a torso and a plain head, or the dueling architecture's two streams."""

from __future__ import annotations

import gymnasium as gym
import torch
from torch import nn

from rlkit.agents.networks import NatureCNN, is_pixels, make_torso
from rlkit.errors import UserError

SQRT_HALF = 0.5 ** 0.5


class QNetwork(nn.Module):
    """Maps observations to one Q-value per action.

    Dueling (Wang et al. 2016): the last hidden layer (the CNN's 512-unit layer, or the last of
    `hidden`) is split into a value stream and an advantage stream, each with its own copy of that
    layer, and Q = V + A - mean(A); the gradient the streams send into the torso is scaled by
    1/sqrt(2), as in the paper. A shared last layer with one linear head of size A + 1 would
    represent nothing a plain head cannot.
    """

    def __init__(self, obs_space: gym.Space, num_actions: int, hidden: list[int], dueling: bool):
        super().__init__()
        self.dueling = dueling
        if not dueling:
            self.torso = make_torso(obs_space, hidden)
            self.head = nn.Linear(self.torso.out_features, num_actions)
            return
        if is_pixels(obs_space):
            self.torso, width = NatureCNN(obs_space.shape, hidden=0), NatureCNN.HIDDEN
        elif hidden:
            self.torso, width = make_torso(obs_space, hidden[:-1]), hidden[-1]
        else:
            raise UserError("agent.dueling: needs at least one hidden layer (agent.hidden) to split into "
                            "value and advantage streams")
        features = self.torso.out_features
        self.value = nn.Sequential(nn.Linear(features, width), nn.ReLU(), nn.Linear(width, 1))
        self.advantage = nn.Sequential(nn.Linear(features, width), nn.ReLU(), nn.Linear(width, num_actions))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values, (batch, num_actions)."""
        features = self.torso(obs)
        if not self.dueling:
            return self.head(features)
        if features.requires_grad:  # Wang et al.: the two streams' gradient into the torso is scaled by 1/sqrt(2)
            features.register_hook(lambda grad: grad * SQRT_HALF)
        advantage = self.advantage(features)
        return self.value(features) + advantage - advantage.mean(dim=1, keepdim=True)
