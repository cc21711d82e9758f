"""PPO hyperparameters; defaults follow CleanRL's ppo_atari.py (Huang et al. 2022)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from rlkit.config import FLOAT32_MAX, above, above_up_to, at_least, between


@dataclass
class AgentConfig:
    """Every PPO knob. A rollout is `num_steps` vector steps of all `env.num_envs` environments."""

    # the network's shape, kind, initial log-std and input statistics: a resumed run cannot change them
    # (its weights hold them)
    FIXED_ON_RESUME: ClassVar[tuple[str, ...]] = ("hidden", "activation", "init_log_std", "norm_obs")

    num_steps: int = field(default=128, metadata=at_least(1))  # per environment per rollout
    num_minibatches: int = field(default=4, metadata=at_least(1))
    update_epochs: int = field(default=4, metadata=at_least(1))
    lr: float = field(default=2.5e-4, metadata=at_least(0.0))
    anneal_lr: bool = True  # linearly to 0 over train.total_steps
    adam_eps: float = field(default=1e-5, metadata=above(0.0))  # 0 divides 0 by 0 for a weight without gradient
    gamma: float = field(default=0.99, metadata=between(0.0, 1.0))
    gae_lambda: float = field(default=0.95, metadata=between(0.0, 1.0))
    # clip_coef and clip_obs bound float32 tensors: at most the largest float32
    clip_coef: float = field(default=0.1, metadata=between(0.0, FLOAT32_MAX))
    anneal_clip: bool = False  # clip range linearly to 0 too (Schulman et al. 2017's Atari setting)
    clip_vloss: bool = True  # clip the value update to +-clip_coef around the rollout's values
    norm_adv: bool = True  # normalize advantages per minibatch
    # SB3's VecNormalize (the RL Zoo's `normalize: true`) for vector observations: observations
    # scaled by their running mean and std, rewards by the running std of the discounted return;
    # the observation statistics are saved with the network and applied again when it is evaluated
    norm_obs: bool = False
    norm_reward: bool = False
    # normalized observations to +-clip_obs
    clip_obs: float = field(default=10.0, metadata=above_up_to(0.0, FLOAT32_MAX))
    clip_reward: float = field(default=10.0, metadata=above(0.0))  # normalized rewards to +-clip_reward
    ent_coef: float = field(default=0.01, metadata=at_least(0.0))
    vf_coef: float = field(default=0.5, metadata=at_least(0.0))
    max_grad_norm: float = field(default=0.5, metadata=at_least(0.0))  # 0 disables clipping
    target_kl: float = field(default=0.0, metadata=at_least(0.0))  # stop the epochs above it; 0 = off
    # MLP widths (vector observations)
    hidden: list[int] = field(default_factory=lambda: [64, 64], metadata=at_least(1))
    activation: Literal["tanh", "relu"] = "tanh"  # MLP activation
    # initial log standard deviation of Gaussian (continuous) actions; exp() of more than about 88
    # overflows float32, and a std of e^20 or e^-20 is already no policy to learn from
    init_log_std: float = field(default=0.0, metadata=between(-20.0, 20.0))
