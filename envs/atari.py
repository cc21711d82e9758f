"""Atari games through ale-py's C++ vector environment (threads, no subprocesses).

Standard DQN preprocessing (Mnih et al. 2015; sticky actions as in Machado et al. 2018 are off
by default, `env.sticky_actions=0.25` turns them on): 0 to noop_max - 1 (29) no-op frames on
reset, frame skip 4 with a max over the last two frames, 84x84 grayscale, a stack of 4 frames,
FIRE for one frame on reset in every game whose action set has it, in place of one no-op (at a
game's start only: unlike CleanRL's and SB3's wrappers, not after each lost life). Life loss is
reported as terminal for learning (the emulator plays on), rewards are clipped for learning
only, and episode returns are the true score of a whole game over all lives.
"""

from __future__ import annotations

import os
import re

import gymnasium as gym
import numpy as np
from numba import njit
from ale_py import roms
from ale_py.registration import rom_id_to_name
from ale_py.vector_env import AtariVectorEnv

from rlkit.config import EnvConfig
from rlkit.errors import UserError
from rlkit.vec import EpisodeTracker, VecStep, env_seeds

ATARI_ID = re.compile(r"^ALE/([A-Za-z0-9]+)-v5$")


def _shipped_roms() -> dict[str, str]:
    """ale-py's game ids and ROM names: 'TicTacToe3D' -> 'tic_tac_toe_3d'."""
    return {rom_id_to_name(rom): rom for rom in roms.get_all_rom_ids()}


def rom_name(env_id: str) -> str:
    """'ALE/MontezumaRevenge-v5' -> 'montezuma_revenge', through ale-py's own naming of the ROMs it ships."""
    match = ATARI_ID.match(env_id)
    if not match:
        guess = ale_id_for(env_id)
        hint = f"; did you mean {guess}?" if guess else ""
        raise UserError(f"env.id: '{env_id}' is not an Atari id of the form ALE/Name-v5{hint}")
    shipped = _shipped_roms()
    if match.group(1) not in shipped:
        guess = ale_id_for(env_id)
        hint = f"; did you mean {guess}?" if guess else ""
        raise UserError(f"env.id: unknown Atari game '{env_id}' (ale-py ships no ROM named {match.group(1)}){hint}")
    return shipped[match.group(1)]


def ale_id_for(name: str) -> str | None:
    """'Pong', 'pong', 'PongNoFrameskip-v4', 'ALE/Pong-v4', 'ale/pong-v5' and ROM names ('ms_pacman')
    -> 'ALE/Pong-v5' when ale-py ships that game, else None (for suggestions). RAM ids get none: this
    adapter gives the agent pixels."""
    base = re.sub(r"^ale/", "", name, flags=re.IGNORECASE).split("-")[0]
    if "-ram" in name.lower() or base.lower().endswith("ram"):
        return None
    base = re.sub(r"(NoFrameskip|Deterministic)$", "", base)
    shipped = _shipped_roms()
    by_lower = {game.lower(): game for game in shipped} | {rom: game for game, rom in shipped.items()}
    game = by_lower.get(base.lower())
    return f"ALE/{game}-v5" if game else None


@njit(cache=True, nogil=True)
def _in_env_order(env_ids):  # pragma: no cover - compiled
    """Whether row i holds env i (np.array_equal costs 40-50 µs here, cold after the emulators ran)."""
    for i in range(env_ids.shape[0]):
        if env_ids[i] != i:
            return False
    return True


@njit(cache=True, nogil=True)
def _split_step(reward, game_over, truncated, lives, last_lives, life_loss_terminal, clip,
                reset, terminated, truncated_out, score, learn_reward):  # pragma: no cover - compiled
    """ale-py's step results into rlkit's flags, in one compiled call (see EpisodeTracker for why):
    a game over or time limit resets; a lost life (not at a reset) terminates when so configured;
    `score` is the true reward, `learn_reward` its sign when clipping. Updates `last_lives`."""
    for i in range(reward.shape[0]):
        reset[i] = game_over[i] or truncated[i]
        life_lost = lives[i] < last_lives[i] and not reset[i]
        last_lives[i] = lives[i]
        terminated[i] = game_over[i] or (life_lost and life_loss_terminal)
        truncated_out[i] = truncated[i] and not game_over[i]
        score[i] = reward[i]
        learn_reward[i] = np.sign(score[i]) if clip else score[i]


class AtariVec:
    """N Atari games stepped together by ale-py's threads; see rlkit.vec.VecEnv."""

    def __init__(self, cfg: EnvConfig):
        if cfg.noop_max > cfg.max_episode_frames:  # ale-py plays them at each reset in one call no signal stops
            raise UserError(f"env.noop_max: {cfg.noop_max:,} no-op frames at each reset are more than an episode's "
                            f"env.max_episode_frames ({cfg.max_episode_frames:,}); a million took 90 s per reset")
        self.num_envs, self.frame_stack = cfg.num_envs, cfg.frame_stack
        self.terminal_on_life_loss = cfg.terminal_on_life_loss
        self.clip_rewards = cfg.clip_rewards
        threads = cfg.num_threads or min(cfg.num_envs, len(os.sched_getaffinity(0)))  # one per core
        self.ale = AtariVectorEnv(
            rom_name(cfg.id), cfg.num_envs, num_threads=threads,
            repeat_action_probability=cfg.sticky_actions, full_action_space=cfg.full_action_space,
            frameskip=cfg.frame_skip,
            stack_num=cfg.frame_stack, noop_max=cfg.noop_max, max_num_frames_per_episode=cfg.max_episode_frames,
            img_height=84, img_width=84, grayscale=True, maxpool=True, use_fire_reset=True,
            episodic_life=False, life_loss_info=False, reward_clipping=False, autoreset_mode="SameStep",
        )
        self.single_observation_space = self.ale.single_observation_space
        self.single_action_space: gym.spaces.Discrete = self.ale.single_action_space
        self.lives = np.zeros(self.num_envs, dtype=np.int32)
        self.episodes = EpisodeTracker(self.num_envs, np.float32)
        # ale-py gives actions[i] to the env of row i of the result it returned last: its env ids
        # when that result came out of env order (rows are put back in order here), else None
        self._received_env_ids: np.ndarray | None = None

    def _env_order(self, env_ids: np.ndarray) -> np.ndarray | None:
        """The row order that puts env i in row i, or None where it is so already; remembers
        ale-py's order for `send`."""
        if _in_env_order(env_ids):
            self._received_env_ids = None
            return None
        self._received_env_ids = env_ids.copy()
        return np.argsort(env_ids)

    def reset(self, seed: int) -> np.ndarray:
        """Reset every game (seeded with `env_seeds(seed, num_envs)`), rows in env order."""
        # the emulators take signed 32-bit seeds (a resumed run passes seed + step)
        seeds = env_seeds(seed % (2**31 - self.num_envs), self.num_envs)
        obs, info = self.ale.reset(seed=np.array(seeds, dtype=np.int64))
        if (order := self._env_order(info["env_id"])) is not None:
            obs, info = obs[order], {k: v[order] for k, v in info.items()}
        self.lives = info["lives"].copy()
        self.episodes = EpisodeTracker(self.num_envs, np.float32)
        return obs

    def send(self, actions: np.ndarray) -> None:
        """Start a step of every game (actions[i] is env i's) in ale-py's threads."""
        actions = np.ascontiguousarray(actions, dtype=np.int64)
        if self._received_env_ids is not None:  # actions[j] is env j's: send them in ale-py's row order
            actions = actions[self._received_env_ids]
        self.ale.send(actions)

    def recv(self) -> VecStep:
        """Finish the step: rows back in env order, life loss and reward clipping as configured."""
        obs, reward, game_over, truncated, info = self.ale.recv()
        if (order := self._env_order(info["env_id"])) is not None:  # keep env i in row i
            obs, reward, game_over, truncated = obs[order], reward[order], game_over[order], truncated[order]
            info = {k: v[order] for k, v in info.items()}
        n = self.num_envs
        reset, terminated, truncated_out = np.empty(n, bool), np.empty(n, bool), np.empty(n, bool)
        score, learn_reward = np.empty(n, np.float32), np.empty(n, np.float32)
        _split_step(reward, game_over, truncated, info["lives"], self.lives, self.terminal_on_life_loss,
                    self.clip_rewards, reset, terminated, truncated_out, score, learn_reward)
        returns, lengths = self.episodes.update(score, reset)
        return VecStep(obs=obs, reward=learn_reward, terminated=terminated, truncated=truncated_out, reset=reset,
                       final_obs=info.get("final_obs", obs), episode_returns=returns, episode_lengths=lengths)

    def close(self) -> None:
        """Stop ale-py's threads and emulators."""
        self.ale.close()
