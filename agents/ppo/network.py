"""Actor-critic networks: a shared Nature-CNN trunk for pixels, separate MLPs for vectors.

Initialization follows CleanRL's PPO: orthogonal weights (gain sqrt 2 in the torsos, 0.01 for the
policy head so the first policy is near uniform, 1 for the value head) and zero biases.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import gymnasium as gym
import torch
import torch.nn.functional as F
from torch import nn

from rlkit.agents.networks import is_pixels, make_torso
from rlkit.checkpoint import load_weights
from rlkit.config import Config
from rlkit.errors import UserError
from rlkit.normalize import ObservationNormalizer

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def orthogonal_init(module: nn.Module, gain: float) -> nn.Module:
    """Orthogonal weights and zero biases for every linear and convolutional layer in `module`."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            with torch.no_grad():  # via a contiguous copy: channels_last weights cannot be viewed as 2-D
                layer.weight.copy_(nn.init.orthogonal_(torch.empty(layer.weight.shape), gain))
                layer.bias.zero_()
    return module


class CategoricalHead(nn.Module):
    """Discrete actions: the head outputs log-probabilities of every action."""

    def __init__(self, features: int, num_actions: int):
        super().__init__()
        self.linear = orthogonal_init(nn.Linear(features, num_actions), 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The distribution's parameters: log-probabilities, (batch, num_actions)."""
        return F.log_softmax(self.linear(x), dim=-1)

    def sample(self, logp: torch.Tensor) -> torch.Tensor:
        """One action per row, drawn from torch's RNG."""
        return torch.multinomial(logp.exp(), 1).squeeze(-1)

    def mode(self, logp: torch.Tensor) -> torch.Tensor:
        """The most likely action per row."""
        return logp.argmax(-1)

    def log_prob(self, logp: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Log-probability of each row's action."""
        return logp.gather(-1, actions.unsqueeze(-1)).squeeze(-1)

    def entropy(self, logp: torch.Tensor) -> torch.Tensor:
        """Entropy per row."""
        return -(logp.exp() * logp).sum(-1)


class GaussianHead(nn.Module):
    """Continuous actions: a diagonal Gaussian with a state-dependent mean and a learned log std."""

    def __init__(self, features: int, action_dim: int, init_log_std: float):
        super().__init__()
        self.linear = orthogonal_init(nn.Linear(features, action_dim), 0.01)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(init_log_std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The distribution's parameters: the mean, (batch, action_dim) (the std is `log_std`)."""
        return self.linear(x)

    def sample(self, mean: torch.Tensor) -> torch.Tensor:
        """One action per row, drawn from torch's RNG (unclipped: the adapter clips to the bounds)."""
        return mean + self.log_std.exp() * torch.randn_like(mean)

    def mode(self, mean: torch.Tensor) -> torch.Tensor:
        """The most likely action: the mean."""
        return mean

    def log_prob(self, mean: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Log-density of each row's action, summed over its dimensions."""
        z = (actions - mean) * torch.exp(-self.log_std)
        return (-0.5 * z.square() - self.log_std - 0.5 * math.log(2 * math.pi)).sum(-1)

    def entropy(self, mean: torch.Tensor) -> torch.Tensor:
        """Entropy per row (the same for every row: the std does not depend on the state)."""
        per_dim = 0.5 + 0.5 * math.log(2 * math.pi) + self.log_std
        return per_dim.sum().expand(mean.shape[0])


class ActorCritic(nn.Module):
    """Policy and value function; one forward pass gives both (one torso pass for pixels).

    With `norm_obs`, the network keeps running statistics of the observations it has seen (saved in
    its state dict). `act`, `value` and `evaluate` then take observations already passed through
    `prepare`, as the rollout stores them; `predict` takes them as the env returns them.
    """

    def __init__(self, obs_space: gym.Space, action_space: gym.Space, hidden: list[int],
                 activation: str = "tanh", init_log_std: float = 0.0, norm_obs: bool = False,
                 clip_obs: float = 10.0):
        super().__init__()
        self.obs_normalizer = ObservationNormalizer(obs_space.shape, clip_obs) if norm_obs else None
        act = ACTIVATIONS[activation]
        self.shared = is_pixels(obs_space)
        self.actor_torso = orthogonal_init(make_torso(obs_space, hidden, act), math.sqrt(2))
        self.critic_torso = None if self.shared else orthogonal_init(make_torso(obs_space, hidden, act),
                                                                     math.sqrt(2))
        features = self.actor_torso.out_features
        if isinstance(action_space, gym.spaces.Discrete):
            self.policy = CategoricalHead(features, int(action_space.n))
        else:
            self.policy = GaussianHead(features, int(action_space.shape[0]), init_log_std)
        self.critic_head = orthogonal_init(nn.Linear(features, 1), 1.0)

    def prepare(self, obs: torch.Tensor, update: bool = False) -> torch.Tensor:
        """Observations as the env returns them, made ready for `act`, `value` and `evaluate`:
        normalized with `norm_obs` (`update`: counting them in the statistics first), else as they are."""
        return obs if self.obs_normalizer is None else self.obs_normalizer(obs, update)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(policy parameters, state values)."""
        actor = self.actor_torso(obs)
        critic = actor if self.critic_torso is None else self.critic_torso(obs)
        return self.policy(actor), self.critic_head(critic).squeeze(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """State values only (bootstraps)."""
        torso = self.actor_torso if self.critic_torso is None else self.critic_torso
        return self.critic_head(torso(obs)).squeeze(-1)

    @torch.inference_mode()
    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample one action per observation: (actions, their log-probabilities, values)."""
        params, values = self(obs)
        actions = self.policy.sample(params)
        return actions, self.policy.log_prob(params, actions), values

    @torch.inference_mode()
    def predict(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        """Actions for observations as the env returns them: sampled, or the most likely (the mean
        for Gaussian) when `deterministic`."""
        params = self.policy(self.actor_torso(self.prepare(obs)))
        return self.policy.mode(params) if deterministic else self.policy.sample(params)

    def evaluate(self, obs: torch.Tensor, actions: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log-probabilities of `actions`, policy entropy, values) under the current weights."""
        params, values = self(obs)
        return self.policy.log_prob(params, actions), self.policy.entropy(params), values


def check_action_space(cfg: Config, action_space: gym.Space) -> None:
    """PPO's heads: Discrete, or a one-dimensional Box; a UserError naming env.id for anything else."""
    if not isinstance(action_space, (gym.spaces.Discrete, gym.spaces.Box)) or (
            isinstance(action_space, gym.spaces.Box) and len(action_space.shape) != 1):
        raise UserError(f"env.id: {cfg.env.id} has action space {action_space}; PPO supports "
                        "Discrete and one-dimensional Box actions")


def build_network(cfg: Config, obs_space: gym.Space, action_space: gym.Space) -> ActorCritic:
    """The actor-critic that `cfg.agent` describes (training and evaluation build the same one)."""
    check_action_space(cfg, action_space)
    agent = cfg.agent
    if agent.norm_obs and is_pixels(obs_space):
        raise UserError(f"agent.norm_obs: {cfg.env.id} gives pixel observations, which the Nature CNN "
                        "scales to [0, 1] itself; norm_obs is for vector observations")
    return ActorCritic(obs_space, action_space, agent.hidden, agent.activation, agent.init_log_std,
                       agent.norm_obs, agent.clip_obs)


def policy(learner_state: dict, cfg: Config, obs_space: gym.Space, action_space: gym.Space,
           device: torch.device, deterministic: bool, seed: int, what: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The trained policy's actions, for `rlkit evaluate`: sampled as in training (as CleanRL
    evaluates PPO; the RL Zoo does so on Atari too, where a deterministic policy can stall a game),
    or the most likely one when `deterministic`. Sampling draws from torch's RNG, which the caller seeds;
    `what` names the checkpoint in errors."""
    net = build_network(cfg, obs_space, action_space).to(device)
    load_weights(net, learner_state.get("net"), what)
    return lambda obs: net.predict(obs, deterministic)
