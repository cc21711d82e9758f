"""Proximal Policy Optimization: `AgentConfig` (hyperparameters), `train(run)` (the training loop)
and `policy(...)` (a trained checkpoint's actions, for evaluation)."""

from rlkit.agents.ppo.config import AgentConfig
from rlkit.agents.ppo.network import policy
from rlkit.agents.ppo.train import train

__all__ = ["AgentConfig", "policy", "train"]
