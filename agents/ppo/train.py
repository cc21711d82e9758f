"""PPO training loop (Schulman et al. 2017), read top to bottom like CleanRL's ppo_atari.py.

Each iteration: collect `num_steps` vector steps into preallocated storage (`actor.collect`: one
batched forward pass per step), compute GAE, run several epochs of minibatch updates, log, checkpoint.
"""

from __future__ import annotations

import contextlib
import time

import gymnasium as gym
import torch

from rlkit.agents.networks import is_pixels
from rlkit.agents.ppo.actor import collect
from rlkit.agents.ppo.learner import PPOLearner
from rlkit.agents.ppo.network import build_network, check_action_space
from rlkit.checkpoint import rng_state, set_rng_state
from rlkit.config import Config, warn_unused, warn_zero_lr
from rlkit.console import warn
from rlkit.envs import make_vec
from rlkit.errors import UserError
from rlkit.normalize import RewardScaler
from rlkit.rollout import Rollout
from rlkit.run import Run, next_multiple
from rlkit.storage import RolloutStorage
from rlkit.vec import VecEnv


def check_config(cfg: Config, action_space: gym.Space) -> None:
    """Raise UserError for settings PPO cannot run with, naming the key at fault."""
    batch = cfg.env.num_envs * cfg.agent.num_steps
    if cfg.agent.num_minibatches > batch:
        raise UserError(f"agent.num_minibatches: {cfg.agent.num_minibatches} is more than the rollout's "
                        f"{batch} transitions (env.num_envs x agent.num_steps)")
    check_action_space(cfg, action_space)


def train(run: Run) -> None:
    """Train PPO for `train.total_steps` environment steps, resuming from `run.checkpoint` if set."""
    with contextlib.closing(make_vec(run.config.env)) as env:  # closed on every way out
        train_on(run, env)


def train_on(run: Run, env: VecEnv) -> None:
    """Train on `env`, a vector env made from `run.config.env` (the caller closes it)."""
    cfg, agent, device = run.config, run.config.agent, run.device
    num_envs, obs_space, action_space = env.num_envs, env.single_observation_space, env.single_action_space
    check_config(cfg, action_space)
    if is_pixels(obs_space):
        warn_unused(agent, "agent", ("hidden", "activation"), "pixel observations go through the Nature CNN (ReLU, "
                    "fixed layers)")
    if isinstance(action_space, gym.spaces.Discrete):
        warn_unused(agent, "agent", ("init_log_std",), "discrete actions have no standard deviation")
    if not agent.norm_obs:
        warn_unused(agent, "agent", ("clip_obs",), "agent.norm_obs is off")
    if not agent.norm_reward:
        warn_unused(agent, "agent", ("clip_reward",), "agent.norm_reward is off")
    warn_zero_lr(agent)
    logger = run.start()  # seeds torch before the network is built
    net = build_network(cfg, obs_space, action_space).to(device)
    learner = PPOLearner(net, agent)
    storage = RolloutStorage(agent.num_steps, num_envs, obs_space, action_space, device)
    reward_scaler = RewardScaler(num_envs, agent.gamma, agent.clip_reward) if agent.norm_reward else None
    step = run.start_step
    if run.checkpoint:
        with run.restoring():
            learner.load_state_dict(run.checkpoint["learner"])
            set_rng_state(run.checkpoint["rng"])
            if reward_scaler is not None and "reward_scaler" in run.checkpoint:  # absent: norm_reward was just turned on
                reward_scaler.load_state_dict(run.checkpoint["reward_scaler"])
    # Episodes in flight at a checkpoint are not saved; a resumed run starts fresh ones.
    rollout = Rollout(env, device, seed=cfg.seed + step)
    per_rollout = agent.num_steps * num_envs
    left = cfg.train.total_steps - step
    if left > 0 and left % per_rollout:
        end = step + -(-left // per_rollout) * per_rollout
        warn(f"note: PPO trains whole rollouts of {per_rollout:,} steps (agent.num_steps x env.num_envs), "
             f"so this run stops at step {end:,}, not {cfg.train.total_steps:,}")
    next_log = next_multiple(step, cfg.train.log_every)  # same grid after a resume
    next_checkpoint = next_multiple(step, cfg.train.checkpoint_every)

    def save() -> None:
        state = {"learner": learner.state_dict(), "rng": rng_state()}
        if reward_scaler is not None:
            state["reward_scaler"] = reward_scaler.state_dict()
        run.save(step, state)

    learn_seconds = 0.0  # running total, like rollout.seconds
    logger.start_clock()  # set-up and restore are not training time
    while step < cfg.train.total_steps and not run.stop_requested:
        remaining = 1.0 - step / cfg.train.total_steps
        for result in collect(rollout, storage, net, agent.gamma, reward_scaler):
            step += num_envs
            logger.episodes(result.episode_returns, result.episode_lengths, step, result.reset)
        with torch.inference_mode():
            storage.compute_advantages(net.value(net.prepare(rollout.obs)), agent.gamma, agent.gae_lambda)

        learn_start = time.perf_counter()
        metrics = learner.update(storage, remaining)
        learn_seconds += time.perf_counter() - learn_start
        run.check_finite(step, net.state_dict())  # before the next rollout acts on the weights

        if step >= next_log:
            for key in ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac",
                        "explained_variance", "lr", "clip", "epochs"):
                logger.scalar(f"train/{key}", metrics[key], step)
            logger.phases({**rollout.seconds, "learn": learn_seconds}, step)
            logger.progress(step)
            next_log = next_multiple(step, cfg.train.log_every)
        if step >= next_checkpoint:
            save()
            next_checkpoint = next_multiple(step, cfg.train.checkpoint_every)
    save()
    logger.progress(step)
