"""PPO actor: fills rollout storage with one on-policy rollout, one batched forward pass per step.

Kept apart from the learner (`learner.py`) so that actors can later step their envs elsewhere
(other processes, a Ray cluster) and hand a filled `RolloutStorage` to one learner.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from rlkit.agents.ppo.network import ActorCritic
from rlkit.normalize import RewardScaler
from rlkit.rollout import Rollout
from rlkit.storage import RolloutStorage
from rlkit.vec import VecStep


def collect(rollout: Rollout, storage: RolloutStorage, net: ActorCritic, gamma: float,
            reward_scaler: RewardScaler | None = None) -> Iterator[VecStep]:
    """Act `storage.num_steps` vector steps with `net` into `storage`, yielding each step's result.

    Storage gets the observations as `net.prepare` made them (normalized with agent.norm_obs) and
    the rewards as `reward_scaler` scales them, if given. Episodes cut by a time limit are bootstrapped
    with `gamma` times the value of their final observation; terminated ones are not. Advantages are
    left to the caller, once all steps are in.
    """
    def act(raw_obs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        obs = net.prepare(raw_obs, update=True)  # each observation joins the statistics once, when acted on
        return obs, *net.act(obs)

    for t in range(storage.num_steps):
        obs, actions, logprobs, values = rollout.timed_act(act, rollout.obs)
        rollout.send(actions)
        storage.add(t, obs, actions, logprobs, values)  # while the emulators step
        result = rollout.recv().step
        ends = result.terminated | result.reset
        rewards = result.reward if reward_scaler is None else reward_scaler(result.reward, ends)
        storage.add_outcome(t, rewards, ends)
        if result.truncated.any():
            rows = np.flatnonzero(result.truncated)
            final_obs = torch.from_numpy(result.final_obs[rows]).to(storage.device)
            with torch.inference_mode():
                storage.bootstrap(t, rows, net.value(net.prepare(final_obs)), gamma)
        yield result
