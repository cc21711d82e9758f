"""`rlkit evaluate`: play a trained checkpoint for whole games and report the returns it scores.

The checkpoint holds the config it was trained under, so the environment (with its
preprocessing) and the network are rebuilt as they were; the agent package supplies the policy
(`policy(...)` in rlkit.agents.dqn and rlkit.agents.ppo). Returns are true game scores over all
lives, as in training's `episode/return`. Scripts load a checkpoint with `load_trained` (SB3's
`PPO.load`) and act with its `predict`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from rlkit.checkpoint import load_checkpoint, refuse_nonfinite
from rlkit.config import INT32_MAX, Config, agent_module, apply_overrides, config_from_dict
from rlkit.console import plus_minus
from rlkit.envs import make_vec
from rlkit.errors import ArgumentParser, UserError
from rlkit.rollout import Rollout
from rlkit.run import FIXED_ON_RESUME, resolve_device, seed_everything
from rlkit.run_folder import latest_checkpoint
from rlkit.vec import VecEnv

# what an evaluation may change: how it plays, never what was trained (FIXED_ON_RESUME: env.id,
# env.frame_stack and env.full_action_space, which the network was trained on, are fixed here as on a resume)
OVERRIDABLE = ("env.", "device", "torch_threads")
KNOWN_SECTIONS = {field.name for field in dataclasses.fields(Config)}
MAX_EPISODES = 1_000_000
SILENCE_SECONDS = 60.0  # a progress line when no episode has ended for this long


def parse_args(argv: list[str]) -> argparse.Namespace:
    """`rlkit evaluate`'s arguments, checked (episodes, seed, and which overrides it takes)."""
    parser = ArgumentParser(
        prog="rlkit evaluate",
        description="Play a trained agent for whole episodes and print the mean return. Takes a run "
                    "folder (its newest checkpoint) or one checkpoint file.",
        epilog="examples:\n  rlkit evaluate runs/pong-s3\n"
               "  rlkit evaluate runs/pong-s3/checkpoints/step_000005000000.pt --episodes 30\n"
               "  rlkit evaluate runs/pong-s3 env.sticky_actions=0.25 --deterministic",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", type=Path, nargs="?", metavar="RUN_DIR|CHECKPOINT", help="a run folder or a step_N.pt file")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="env.*, device or torch_threads overrides (env.num_envs=4, env.sticky_actions=0.25)")
    parser.add_argument("--episodes", type=int, default=10, help="whole episodes to play (default 10)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the environments and the policy's sampling (default: the run's seed "
                             "+ 1,000,000, so its games differ from the training's first ones)")
    parser.add_argument("--deterministic", action="store_true",
                        help="always the policy's most likely action (DQN: no epsilon; PPO: no sampling); "
                             "such a policy can stall a game until its time limit (Breakout without FIRE)")
    args = parser.parse_intermixed_args(argv)
    if args.run is None:
        raise UserError("give a RUN_DIR or a CHECKPOINT file to evaluate")
    if not 1 <= args.episodes <= MAX_EPISODES:
        raise UserError(f"--episodes: {args.episodes} is not a number of episodes from 1 to {MAX_EPISODES:,}")
    check_seed(args.seed, "--seed")
    check_overrides(args.overrides)
    return args


def check_seed(seed: int | None, where: str) -> None:
    """The emulators take 31-bit seeds."""
    if seed is not None and not 0 <= seed <= INT32_MAX:
        raise UserError(f"{where}: {seed} is outside 0..{INT32_MAX} (the emulators take 31-bit seeds)")


def check_overrides(overrides: Sequence[str]) -> None:
    """Evaluation may change how the agent plays (env.*, device, torch_threads), never what it was
    trained on; a UserError names the override that would."""
    for override in (text for text in overrides if "=" in text):  # others fail as malformed later
        key = override.split("=", 1)[0].strip()
        if key.split(".")[0] not in KNOWN_SECTIONS:
            raise UserError(f"'{override}': unknown key {key} (evaluate takes env.*, device and torch_threads)")
        if key == "seed":  # train's `seed=N`: evaluation draws its own games
            raise UserError(f"'{override}': evaluate takes its seed as --seed {override.split('=', 1)[1].strip()}")
        if not key.startswith(OVERRIDABLE) or (key in FIXED_ON_RESUME and key != "env.id"):  # env.id: load_trained
            raise fixed_by_checkpoint(override, key)


def fixed_by_checkpoint(override: str, key: str) -> UserError:
    """The error for an override of what the checkpoint was trained with."""
    fixed = ", ".join(key for key in FIXED_ON_RESUME if key.startswith("env."))
    return UserError(f"'{override}': evaluate takes env.* (but {fixed}), device and "
                     f"torch_threads overrides only ({key} is fixed by the checkpoint)")


def check_env_module(env_id: str, path: Path, confirmed: bool) -> None:
    """A checkpoint is data, never code: the module that its env.id `module:Name-v0` names (imported to
    register Name-v0) is imported only when the user names it too, as the RL Zoo's --gym-packages."""
    module, colon, _ = env_id.rpartition(":")
    if colon and not confirmed and module not in sys.modules:
        raise UserError(f"{path}: its env.id {env_id} would import {module}, and rlkit imports no code that a "
                        f"checkpoint names: give env.id={env_id} to import it (or import {module} before load_trained)")


def checkpoint_file(path: Path) -> Path:
    """The checkpoint that RUN_DIR|CHECKPOINT names: the file itself, or a run's newest."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise UserError(f"{path}: no such run folder or checkpoint file")
    newest = latest_checkpoint(path)
    if newest is None:
        raise UserError(f"{path}: no checkpoint there (a run folder holds them in checkpoints/step_N.pt)")
    return newest


def episode_targets(episodes: int, num_envs: int) -> np.ndarray:
    """How many episodes each env plays: an even split, as SB3's evaluate_policy does, so the envs
    whose games happen to be short do not fill the count (a bias towards short episodes)."""
    return np.array([(episodes + i) // num_envs for i in range(num_envs)])


@dataclasses.dataclass
class Episode:
    """One evaluated episode; `cut` when a time limit ended it (Atari: env.max_episode_frames), not the game."""

    score: float
    length: int
    cut: bool


def evaluate(policy: Callable[[torch.Tensor], torch.Tensor | np.ndarray], env: VecEnv, device: torch.device,
             episodes: int, seed: int, report: Callable[[Episode | None, int], None] | None = None) -> list[Episode]:
    """Play `episodes` whole episodes; they come back in the order they ended. `report(episode, steps)`
    is called as each one ends, and with None when none has ended for a minute (a stalled game)."""
    targets = episode_targets(episodes, env.num_envs)
    played = np.zeros(env.num_envs, dtype=np.int64)
    ended: list[Episode] = []
    rollout = Rollout(env, device, seed=seed)
    steps, last_news = 0, time.monotonic()
    while (played < targets).any():
        rollout.send(policy(rollout.obs))
        step = rollout.recv().step
        steps += env.num_envs
        for env_index, score, length in zip(np.flatnonzero(step.reset), step.episode_returns, step.episode_lengths):
            if played[env_index] < targets[env_index]:
                played[env_index] += 1
                ended.append(Episode(score, length, bool(step.truncated[env_index])))
                if report:
                    report(ended[-1], steps)
                last_news = time.monotonic()
        if report and time.monotonic() - last_news > SILENCE_SECONDS:
            report(None, steps)
            last_news = time.monotonic()
    return ended


def _number(value: float) -> str:
    """A score as it reads best: 21, -170.67, 1234567 (never 1.23457e+06)."""
    return np.format_float_positional(value, precision=2, trim="-")


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _spread(values: list[float] | list[int]) -> str:
    """'mean ± std (min .. max)' with as many decimals as the values need."""
    mean, std = float(np.mean(values)), float(np.std(values))
    digits = 0 if all(float(v).is_integer() for v in values) else 2
    return f"{mean:,.2f} {plus_minus()} {std:,.2f} (min {min(values):,.{digits}f}, max {max(values):,.{digits}f})"


class _ThreadCounts:
    """torch's thread count while `Trained` objects that set one are open: the newest open one's, and,
    once all are closed (in whatever order), the count from before the first was loaded."""

    def __init__(self) -> None:
        self.before = 0
        self.claims: dict[int, int] = {}  # claim number -> the thread count it set, oldest first
        self.next_claim = 1

    def claim(self, threads: int) -> int:
        if not self.claims:
            self.before = torch.get_num_threads()
        claim, self.next_claim = self.next_claim, self.next_claim + 1
        self.claims[claim] = threads
        torch.set_num_threads(threads)
        return claim

    def release(self, claim: int) -> None:
        if self.claims.pop(claim, None) is not None:
            torch.set_num_threads(list(self.claims.values())[-1] if self.claims else self.before)


_thread_counts = _ThreadCounts()


@dataclasses.dataclass
class Trained:
    """A checkpoint ready to play: the config it trained under (with evaluation's overrides), a
    vector env built from that config, and the policy, which takes the env's observations as a
    tensor on `device`. `thread_claim`: set when loading set torch's thread count, which `close` gives back."""

    path: Path
    config: Config
    step: int | None
    seed: int
    device: torch.device
    env: VecEnv
    policy: Callable[[torch.Tensor], torch.Tensor | np.ndarray]
    thread_claim: int = 0

    def predict(self, obs: np.ndarray | torch.Tensor) -> np.ndarray:
        """Actions for a batch of observations as `env` returns them (one row per env), or the one
        action for a single observation (a plain gymnasium env's), as SB3's predict: Box actions
        clipped into their bounds; unlike it, the actions alone, not an (actions, state) pair. Any
        other shape raises ValueError. A single observation's action is the plain env's own: a
        `Discrete(n, start=s)` one lies in s..s+n-1, where `env` (which shifts them itself) takes 0..n-1."""
        obs = torch.as_tensor(obs, device=self.device)
        shape = tuple(self.env.single_observation_space.shape)
        single = tuple(obs.shape) == shape
        if not single and tuple(obs.shape[1:]) != shape:
            batch = "(N, " + ", ".join(map(str, shape)) + ")"
            raise ValueError(f"predict: observations of shape {tuple(obs.shape)}; {self.config.env.id} takes one "
                             f"of shape {shape} or a batch of shape {batch}")
        actions = self.policy(obs[None] if single else obs)
        actions = actions.cpu().numpy() if isinstance(actions, torch.Tensor) else np.asarray(actions)
        space = self.env.single_action_space
        if isinstance(space, gym.spaces.Box):  # a Gaussian's samples and mean can lie outside
            actions = np.clip(actions, space.low, space.high).astype(space.dtype, copy=False)
        return actions[0] + getattr(self.env, "action_start", 0) if single else actions

    def close(self) -> None:
        """Close the env (its emulators) and give torch back the thread count it had before loading
        (or the newest still open `Trained` object's)."""
        try:
            self.env.close()
        finally:
            _thread_counts.release(self.thread_claim)
            self.thread_claim = 0


def load_trained(run: str | Path, overrides: Sequence[str] = (), deterministic: bool = False,
                 seed: int | None = None, max_envs: int | None = None) -> Trained:
    """Load RUN_DIR's newest checkpoint (or a step_N.pt file) to play it, from Python as `rlkit
    evaluate` does. `seed` (default: the run's + 1,000,000, so the games differ from the training's
    first ones) seeds the process's RNGs (Python's, numpy's and torch's, from which PPO samples)
    and is the one to give the env's `reset`; `max_envs` caps env.num_envs unless an override sets
    it. The config's torch_threads applies to the whole process until `close`. Bad input raises
    UserError; close the result when done."""
    overrides = [overrides] if isinstance(overrides, str) else list(overrides)  # one "KEY=VALUE", not its letters
    check_seed(seed, "seed")
    check_overrides(overrides)
    path = checkpoint_file(Path(run))
    checkpoint = load_checkpoint(path)
    trained = checkpoint.get("config") if isinstance(checkpoint, dict) else None
    if not isinstance(trained, dict) or not isinstance(checkpoint.get("learner"), dict):
        raise UserError(f"{path}: not an rlkit checkpoint (it holds no config or learner state)")
    refuse_nonfinite(checkpoint, path)
    saved_id = trained["env"].get("id") if isinstance(trained.get("env"), dict) else None
    origins = apply_overrides(trained, list(overrides))
    config = config_from_dict(trained, source=f"{path} (its config)", origins=origins)
    if "env.id" in origins and config.env.id != saved_id:  # the same id only: it names the module to import
        raise fixed_by_checkpoint(origins["env.id"], "env.id")
    check_env_module(config.env.id, path, confirmed="env.id" in origins)
    if max_envs and not any(override.split("=", 1)[0].strip() == "env.num_envs" for override in overrides):
        config.env.num_envs = min(config.env.num_envs, max_envs)
    device = resolve_device(config.device)
    seed = (config.seed + 1_000_000) % (INT32_MAX + 1) if seed is None else seed
    seed_everything(seed)  # PPO samples from torch's RNG
    env = make_vec(config.env)
    thread_claim = _thread_counts.claim(config.torch_threads) if config.torch_threads else 0
    try:
        policy = agent_module(config.algo).policy(checkpoint["learner"], config, env.single_observation_space,
                                                  env.single_action_space, device, deterministic, seed, what=str(path))
    except BaseException:
        env.close()
        _thread_counts.release(thread_claim)
        raise
    step = checkpoint.get("step")
    return Trained(path, config, step if isinstance(step, int) else None, seed, device, env, policy, thread_claim)


def main(argv: list[str]) -> int:
    """Entry point of `rlkit evaluate`: 0 when the episodes were played."""
    args = parse_args(argv)
    trained = load_trained(args.run, args.overrides, args.deterministic, args.seed, max_envs=args.episodes)
    with contextlib.closing(trained):
        config = trained.config
        trained_for = f"trained {trained.step:,} steps" if trained.step is not None else "trained"
        print(f"{trained.path}: {config.algo} on {config.env.id}, {trained_for}; {_count(args.episodes, 'episode')} "
              f"on {_count(config.env.num_envs, 'env')}, seed {trained.seed}", flush=True)
        count = 0

        def report(episode: Episode | None, steps: int) -> None:
            nonlocal count
            if episode is None:
                print(f"... {steps:,} steps played, {count} of {args.episodes} episodes ended", flush=True)
                return
            count += 1
            cut = " (time limit)" if episode.cut else ""
            print(f"episode {count}/{args.episodes}: return {_number(episode.score)}, {episode.length:,} steps{cut}",
                  flush=True)

        ended = evaluate(trained.policy, trained.env, trained.device, args.episodes, trained.seed, report)
    cut = sum(episode.cut for episode in ended)
    note = f" ({cut} ended by the time limit)" if cut else ""
    print(f"return {_spread([e.score for e in ended])} over {_count(len(ended), 'episode')}{note}; "
          f"length {_spread([e.length for e in ended])} steps")
    return 0
