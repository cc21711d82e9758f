"""Running normalization of observations and rewards, as SB3's VecNormalize and CleanRL's
continuous-action PPO apply it: observations centred and scaled by running statistics, rewards
divided by the running standard deviation of the discounted return, both then clipped.

The statistics are counted in numpy float64, as SB3 counts them (float32 would stop counting after
2^24 observations, and torch's per-op overhead on arrays this small costs more than the envs' step).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rlkit.errors import DamagedState

EPSILON = 1e-8  # keeps a constant feature's scale finite
PRIOR_COUNT = 1e-4  # the statistics start as mean 0, variance 1 with this weight, as SB3's do


class RunningMeanStd:
    """Mean and (population) variance of every sample seen so far, updated a batch at a time with
    Chan et al.'s parallel formula."""

    def __init__(self, shape: tuple[int, ...]):
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = PRIOR_COUNT

    def update(self, batch: np.ndarray) -> None:
        """Fold a batch (leading dimension: samples) into the statistics."""
        batch = np.asarray(batch, dtype=np.float64).reshape(-1, *self.mean.shape)
        seen, new = self.count, batch.shape[0]
        total = seen + new
        delta = batch.mean(0) - self.mean
        self.mean = np.asarray(self.mean + delta * (new / total))  # an array even for shape ()
        self.var = np.asarray((self.var * seen + batch.var(0) * new + np.square(delta) * (seen * new / total)) / total)
        self.count = total

    def std(self) -> np.ndarray:
        """The standard deviation a value is divided by (never 0)."""
        return np.sqrt(self.var + EPSILON)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The statistics as tensors, for a checkpoint."""
        return {"mean": torch.tensor(self.mean), "var": torch.tensor(self.var),
                "count": torch.tensor(self.count, dtype=torch.float64)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore `state_dict()`; ValueError when it holds statistics of another shape, DamagedState
        when they are not statistics any run counts."""
        mean, var = (torch.as_tensor(state[key], dtype=torch.float64).numpy() for key in ("mean", "var"))
        count = float(state["count"])
        if mean.shape != self.mean.shape or var.shape != self.mean.shape:
            raise ValueError(f"saved running statistics of shape {tuple(mean.shape)} for values of shape "
                             f"{tuple(self.mean.shape)}")
        if not (np.isfinite(mean).all() and np.isfinite(var).all() and (var >= 0).all() and 0 < count < np.inf):
            raise DamagedState("saved running statistics that no run counts: a mean or variance not finite, "
                               "a negative variance or a count that is not positive")
        self.mean, self.var, self.count = mean.copy(), var.copy(), count


class ObservationNormalizer(nn.Module):
    """(obs - mean) / std of every observation seen, clipped to +-`clip`. The statistics travel in
    the module's state dict (its extra state); a float32 copy of them lives on the module's device."""

    def __init__(self, shape: tuple[int, ...], clip: float):
        super().__init__()
        self.stats = RunningMeanStd(shape)
        self.clip = clip
        self.register_buffer("mean", torch.zeros(shape), persistent=False)
        self.register_buffer("inv_std", torch.ones(shape), persistent=False)
        self._copy_stats()

    def _copy_stats(self) -> None:
        self.mean.copy_(torch.from_numpy(self.stats.mean))
        self.inv_std.copy_(torch.from_numpy(1.0 / self.stats.std()))

    @torch.no_grad()
    def forward(self, obs: torch.Tensor, update: bool = False) -> torch.Tensor:
        """Normalized `obs`; with `update`, `obs` join the statistics first."""
        if update:
            self.stats.update(obs.cpu().numpy())
            self._copy_stats()
        return ((obs - self.mean) * self.inv_std).clamp_(-self.clip, self.clip)

    def get_extra_state(self) -> dict[str, torch.Tensor]:
        return self.stats.state_dict()

    def set_extra_state(self, state: dict[str, torch.Tensor]) -> None:
        self.stats.load_state_dict(state)
        self._copy_stats()


class RewardScaler:
    """Rewards divided by the running standard deviation of each env's discounted return (not
    centred, so a reward keeps its sign), clipped to +-`clip`. The per-env returns restart with each
    episode and are not saved: a resumed run starts fresh episodes."""

    def __init__(self, num_envs: int, gamma: float, clip: float):
        self.stats = RunningMeanStd(())
        self.gamma = gamma
        self.clip = clip
        self.returns = np.zeros(num_envs, dtype=np.float64)

    def __call__(self, rewards: np.ndarray, episode_over: np.ndarray) -> np.ndarray:
        """Scaled rewards (float32) for one vector step; `episode_over` (where the rollout's episodes
        end: terminated or reset, SB3's `dones`) restarts those envs' returns after this step."""
        self.returns = self.returns * self.gamma + rewards
        self.stats.update(self.returns)
        self.returns[episode_over] = 0.0
        return np.clip(rewards / self.stats.std(), -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The return statistics, for a checkpoint."""
        return self.stats.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore `state_dict()`."""
        self.stats.load_state_dict(state)
