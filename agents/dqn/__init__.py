"""Deep Q-Networks: `AgentConfig` (hyperparameters) and `train(run)` (the training loop)."""

from rlkit.agents.dqn.config import AgentConfig
from rlkit.agents.dqn.train import train

__all__ = ["AgentConfig", "train"]
