"""Proximal Policy Optimization: `AgentConfig` (hyperparameters) and `train(run)` (the training loop)."""

from rlkit.agents.ppo.config import AgentConfig
from rlkit.agents.ppo.train import train

__all__ = ["AgentConfig", "train"]
