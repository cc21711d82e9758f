"""Deep Q-Networks: `AgentConfig` (hyperparameters), `train(run)` (the training loop) and
`policy(...)` (a trained checkpoint's actions, for evaluation)."""

from rlkit.agents.dqn.actor import policy
from rlkit.agents.dqn.config import AgentConfig
from rlkit.agents.dqn.train import train

__all__ = ["AgentConfig", "policy", "train"]
