"""DQN actor: epsilon-greedy over one batched Q forward pass for all environments."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch

from rlkit.agents.dqn.network import QNetwork
from rlkit.checkpoint import load_weights
from rlkit.config import Config
from rlkit.errors import UserError


def linear_epsilon(step: int, start: float, end: float, duration: float) -> float:
    """Anneal linearly from `start` to `end` over `duration` steps, then hold."""
    if duration <= 0:
        return end
    return start + (end - start) * min(step / duration, 1.0)


class EpsilonGreedyActor:
    """Acts for N envs at once with the Q-network it is given (in training, the learner's own), and
    its own RNG for exploration."""

    def __init__(self, q_net: QNetwork, num_actions: int, seed: int | np.random.SeedSequence):
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


def require_discrete(cfg: Config, action_space: gym.Space) -> None:
    """DQN picks one of n actions: a UserError naming env.id for any other action space."""
    if not isinstance(action_space, gym.spaces.Discrete):
        ppo = " (algo: ppo takes continuous ones)" if isinstance(action_space, gym.spaces.Box) else ""
        raise UserError(f"env.id: {cfg.env.id} has action space {action_space}; DQN needs Discrete actions{ppo}")


def policy(learner_state: dict, cfg: Config, obs_space: gym.Space, action_space: gym.Space,
           device: torch.device, deterministic: bool, seed: int, what: str) -> Callable[[torch.Tensor], np.ndarray]:
    """The trained Q-network's actions, for `rlkit evaluate`: epsilon-greedy with the run's final
    epsilon (`agent.epsilon_end`, as SB3's predict and CleanRL's evaluation use a small one, so a
    policy cannot stall a game forever), or greedy when `deterministic`. `what` names the checkpoint
    in errors."""
    require_discrete(cfg, action_space)
    q_net = QNetwork(obs_space, int(action_space.n), cfg.agent.hidden, cfg.agent.dueling).to(device)
    load_weights(q_net, learner_state.get("q_net"), what)
    actor = EpsilonGreedyActor(q_net, int(action_space.n), seed=seed)
    epsilon = 0.0 if deterministic else cfg.agent.epsilon_end
    return lambda obs: actor.act(obs, epsilon)
