"""DQN hyperparameters; defaults follow CleanRL's dqn_atari.py, except Double DQN on and a Huber loss."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from rlkit.config import above, above_up_to, at_least, between


@dataclass
class AgentConfig:
    """Every DQN knob. Step counts are environment steps summed over all envs."""

    # the network's shape and kind: a resumed run cannot change them (its weights were learned with them)
    FIXED_ON_RESUME: ClassVar[tuple[str, ...]] = ("hidden", "dueling")

    buffer_size: int = field(default=1_000_000, metadata=at_least(1))
    batch_size: int = field(default=32, metadata=at_least(1))
    lr: float = field(default=1e-4, metadata=at_least(0.0))
    adam_eps: float = field(default=1e-8, metadata=above(0.0))  # 0 divides 0 by 0 for a weight without gradient
    gamma: float = field(default=0.99, metadata=between(0.0, 1.0))
    n_step: int = field(default=1, metadata=at_least(1))
    double: bool = True  # Double-DQN target (van Hasselt et al. 2016)
    dueling: bool = False  # dueling head (Wang et al. 2016)
    # MLP widths (vector observations)
    hidden: list[int] = field(default_factory=lambda: [120, 84], metadata=at_least(1))
    target_update_every: int = field(default=1_000, metadata=at_least(1))
    # 1.0 = hard copy, else Polyak; 0 would never update the target
    tau: float = field(default=1.0, metadata=above_up_to(0.0, 1.0))
    epsilon_start: float = field(default=1.0, metadata=between(0.0, 1.0))
    epsilon_end: float = field(default=0.01, metadata=between(0.0, 1.0))
    epsilon_fraction: float = field(default=0.1, metadata=between(0.0, 1.0))  # of train.total_steps
    learning_starts: int = field(default=80_000, metadata=at_least(0))
    train_frequency: int = field(default=4, metadata=at_least(1))
    gradient_steps: int = field(default=1, metadata=at_least(1))
    max_grad_norm: float = field(default=10.0, metadata=at_least(0.0))  # 0 disables clipping
    prioritized: bool = False  # prioritized replay (Schaul et al. 2016)
    priority_alpha: float = field(default=0.6, metadata=between(0.0, 1.0))
    priority_beta: float = field(default=0.4, metadata=between(0.0, 1.0))  # annealed to 1.0
