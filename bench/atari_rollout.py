"""Rollout-engine throughput with a random policy against bare ale-py AtariVectorEnv stepping.

Both step the same game with the same number of envs and emulator threads; rlkit adds its
per-step work (observations to a torch tensor on the device, life-loss and episode bookkeeping,
final-observation handling). Prints agent steps/s, frames/s and the ratio.

    python bench/atari_rollout.py [--game ALE/Pong-v5] [--envs 16] [--threads 2] [--steps 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from common import StealMeter, machine


def bare(game: str, envs: int, threads: int, steps: int) -> float:
    """Agent steps/s of AtariVectorEnv itself, random actions from numpy."""
    from ale_py.vector_env import AtariVectorEnv
    from rlkit.envs.atari import rom_name

    env = AtariVectorEnv(rom_name(game), envs, num_threads=threads, autoreset_mode="SameStep")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    n = env.single_action_space.n
    start = time.perf_counter()
    for _ in range(steps // envs):
        env.step(rng.integers(0, n, envs))
    elapsed = time.perf_counter() - start
    env.close()
    return steps // envs * envs / elapsed


def rlkit_rollout(game: str, envs: int, threads: int, steps: int, device: str) -> float:
    """Agent steps/s through rlkit's Rollout with a random policy computed on `device`."""
    from rlkit.config import EnvConfig
    from rlkit.envs import make_vec
    from rlkit.rollout import Rollout

    env = make_vec(EnvConfig(id=game, num_envs=envs, num_threads=threads))
    rollout = Rollout(env, torch.device(device), seed=0)
    n = env.single_action_space.n
    generator = torch.Generator(device=device).manual_seed(0)
    start = time.perf_counter()
    for _ in range(steps // envs):
        actions = torch.randint(0, n, (envs,), device=device, generator=generator)
        rollout.send(actions)
        rollout.recv()
    elapsed = time.perf_counter() - start
    rollout.close()
    return steps // envs * envs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", default="ALE/Pong-v5")
    parser.add_argument("--envs", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each side counts")
    args = parser.parse_args()
    print(machine())
    # alternate to spread any background load evenly over both
    ours, theirs = [], []
    with StealMeter() as steal:
        for _ in range(args.rounds):
            theirs.append(bare(args.game, args.envs, args.threads, args.steps))
            ours.append(rlkit_rollout(args.game, args.envs, args.threads, args.steps, args.device))
    ours_sps, bare_sps = max(ours), max(theirs)
    print(f"{args.game}, {args.envs} envs, {args.threads} threads, device {args.device} ({steal} over all rounds)")
    print(f"bare AtariVectorEnv: {bare_sps:8.0f} steps/s ({bare_sps * 4:8.0f} frames/s)")
    print(f"rlkit Rollout:       {ours_sps:8.0f} steps/s ({ours_sps * 4:8.0f} frames/s)   ratio: {ours_sps / bare_sps:.2f}x")


if __name__ == "__main__":
    main()
