"""Gymnasium environments with array observations (classic control such as CartPole-v1 and Pendulum-v1,
and Box2D or MuJoCo tasks where installed) as a synchronous vector env, same-step reset."""

from __future__ import annotations

import importlib
import warnings

import gymnasium as gym
import numpy as np

from rlkit.config import EnvConfig, warn_unused
from rlkit.errors import UserError
from rlkit.vec import EpisodeTracker, VecStep, env_seeds


# EnvConfig keys that only the Atari adapter reads
ATARI_ONLY = ("num_threads", "frame_stack", "frame_skip", "noop_max", "sticky_actions", "full_action_space",
              "terminal_on_life_loss", "clip_rewards", "max_episode_frames")


def newest_version(env_id: str) -> str | None:
    """The newest registered id with `env_id`'s name, its case and version aside ('cartpole-v1',
    'CartPole-v2', 'CartPole' -> CartPole-v1), for suggestions; never one of ale-py's old Atari ids."""
    name = env_id.rsplit("-v", 1)[0].lower()
    specs = [spec for spec in gym.registry.values()
             if spec.id.rsplit("-v", 1)[0].lower() == name and "ale_py" not in str(spec.entry_point)]
    return max(specs, key=lambda spec: spec.version or 0).id if specs else None


def check_gymnasium_id(env_id: str) -> None:
    """Raise UserError unless gymnasium knows `env_id` and can make it here (Box2D, MuJoCo and
    other optional dependencies installed). As in gymnasium.make, `module:Name-v0` imports the
    module first (one that registers Name-v0: your own environment)."""
    module, colon, name = env_id.rpartition(":")
    if colon and not all(part.isidentifier() for part in module.split(".")):  # '', '.rel', 'a:b', 'my-envs'
        raise UserError(f"env.id: {env_id}: '{module}' is not a module name (module:Name-v0 imports the module "
                        "that registers Name-v0)")
    if colon:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise UserError(f"env.id: {env_id}: cannot import {module}, which should register {name} "
                            f"({error})") from None
    try:
        gym.spec(name)
    except gym.error.DeprecatedEnv as error:  # "... is deprecated. Please use `Taxi-v4` instead."
        raise UserError(f"env.id: {error}") from None
    except gym.error.Error:
        hint = f"; did you mean {guess}?" if (guess := newest_version(name)) else ""
        raise UserError(f"env.id: unknown environment '{env_id}' (not an ALE/Name-v5 game nor a gymnasium id)"
                        f"{hint}") from None
    try:
        with warnings.catch_warnings():  # a deprecated id warns before it fails; the error says it all
            warnings.simplefilter("ignore")
            gym.make(env_id).close()
    except (gym.error.Error, ImportError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UserError(f"env.id: {env_id} cannot be made here: {reason}") from None


def observation_problem(space: gym.Space) -> str | None:
    """Why this adapter refuses `space` (None when it takes it): it passes arrays on unscaled."""
    if not isinstance(space, gym.spaces.Box):
        return "the classic-control adapter takes Box (array) observations"
    if not space.shape:
        return "the classic-control adapter takes arrays of at least one dimension, not scalars"
    if space.dtype == np.uint8 and len(space.shape) >= 2:
        return ("these are images, and the classic-control adapter feeds arrays to an MLP unscaled; "
                "rlkit's pixel path (a Nature CNN on 84x84 stacked frames) is the Atari adapter (ALE/Name-v5)")
    return None


class ClassicVec:
    """N gymnasium environments in one process; see rlkit.vec.VecEnv."""

    def __init__(self, cfg: EnvConfig):
        check_gymnasium_id(cfg.id)
        self.num_envs, self.frame_stack = cfg.num_envs, 1  # whole arrays, no frame stacks
        self.envs = gym.make_vec(cfg.id, num_envs=cfg.num_envs, vectorization_mode="sync",
                                 vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP})
        space = self.envs.single_observation_space
        problem = observation_problem(space)
        if problem:
            self.envs.close()
            raise UserError(f"env.id: {cfg.id} has observation space {space}; {problem}")
        # observations come out as float32 (below), so the space says so too (MuJoCo's are float64)
        self.single_observation_space = gym.spaces.Box(space.low.astype(np.float32), space.high.astype(np.float32),
                                                       dtype=np.float32)
        action_space = self.envs.single_action_space
        # Discrete(n, start=s): the agents pick 0..n-1, and `send` shifts them to s..s+n-1
        self.action_start = int(action_space.start) if isinstance(action_space, gym.spaces.Discrete) else 0
        self.single_action_space = gym.spaces.Discrete(action_space.n) if self.action_start else action_space
        self.episodes = EpisodeTracker(self.num_envs)
        self._actions: np.ndarray | None = None
        warn_unused(cfg, "env", ATARI_ONLY, "it is Atari preprocessing, and this is a gymnasium environment")

    def reset(self, seed: int) -> np.ndarray:
        """Reset every env (seeded with `env_seeds(seed, num_envs)`) and the action space's sampler."""
        obs, _ = self.envs.reset(seed=env_seeds(seed, self.num_envs))
        self.single_action_space.seed(seed)
        self.episodes = EpisodeTracker(self.num_envs)
        return obs.astype(np.float32)

    def send(self, actions: np.ndarray) -> None:
        """Keep the actions for `recv`, clipped into a Box's bounds or shifted to a Discrete's start."""
        if isinstance(self.single_action_space, gym.spaces.Box):  # continuous: clip into the bounds
            space = self.single_action_space
            actions = np.clip(actions, space.low, space.high).astype(space.dtype, copy=False)
        self._actions = actions + self.action_start if self.action_start else actions

    def recv(self) -> VecStep:
        """Step every env with the actions `send` kept; observations and rewards come as float32."""
        obs, reward, terminated, truncated, info = self.envs.step(self._actions)
        reset = terminated | truncated
        final_obs = obs.copy()
        for i in np.flatnonzero(reset):  # gymnasium gives an object array, set only where reset
            final_obs[i] = info["final_obs"][i]
        returns, lengths = self.episodes.update(reward, reset)
        return VecStep(obs=obs.astype(np.float32), reward=reward.astype(np.float32), terminated=terminated,
                       truncated=truncated & ~terminated, reset=reset, final_obs=final_obs.astype(np.float32),
                       episode_returns=returns, episode_lengths=lengths)

    def close(self) -> None:
        """Close the gymnasium environments."""
        self.envs.close()
