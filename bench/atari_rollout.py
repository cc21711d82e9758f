"""Rollout-engine throughput with a random policy against bare ale-py AtariVectorEnv stepping.

Both step the same game with the same number of envs and emulator threads; rlkit adds its
per-step work (observations to a torch tensor on the device, life-loss and episode bookkeeping,
final-observation handling). Both stay open side by side and are timed in short alternating
blocks, so a change in the machine's speed (a shared VM's neighbours) hits both alike.
Prints agent steps/s, frames/s and the ratio.

    python bench/atari_rollout.py [--game ALE/Pong-v5] [--envs 16] [--threads 2] [--steps 20000] [--block 50]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from common import StealMeter, machine


def bare_stepper(game: str, envs: int, threads: int) -> tuple[Callable[[], None], Callable[[], None]]:
    """One vector step of AtariVectorEnv itself with random actions from numpy; and its close."""
    from ale_py.vector_env import AtariVectorEnv
    from rlkit.envs.atari import rom_name

    env = AtariVectorEnv(rom_name(game), envs, num_threads=threads, autoreset_mode="SameStep")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    n = env.single_action_space.n
    return lambda: env.step(rng.integers(0, n, envs)), env.close


def rlkit_stepper(game: str, envs: int, threads: int, device: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """One vector step through rlkit's Rollout with a random policy computed on `device`; and its close."""
    from rlkit.config import EnvConfig
    from rlkit.envs import make_vec
    from rlkit.rollout import Rollout

    rollout = Rollout(make_vec(EnvConfig(id=game, num_envs=envs, num_threads=threads)), torch.device(device), seed=0)
    n = rollout.env.single_action_space.n
    generator = torch.Generator(device=device).manual_seed(0)

    def step() -> None:
        rollout.send(torch.randint(0, n, (envs,), device=device, generator=generator))
        rollout.recv()
    return step, rollout.env.close


def timed(step: Callable[[], None], count: int) -> float:
    """Seconds for `count` calls of `step`."""
    start = time.perf_counter()
    for _ in range(count):
        step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", default="ALE/Pong-v5")
    parser.add_argument("--envs", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20000, help="agent steps timed on each side")
    parser.add_argument("--block", type=int, default=50, help="vector steps per timed block; the sides alternate")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    print(machine())
    bare_step, bare_close = bare_stepper(args.game, args.envs, args.threads)
    ours_step, ours_close = rlkit_stepper(args.game, args.envs, args.threads, args.device)
    blocks = max(1, args.steps // (args.envs * args.block))
    bare_seconds: list[float] = []
    ours_seconds: list[float] = []
    sides = [(bare_step, bare_seconds), (ours_step, ours_seconds)]
    for step, _ in sides:
        timed(step, args.block)  # warm up
    with StealMeter() as steal:
        for i in range(blocks):
            for step, seconds in sides if i % 2 == 0 else sides[::-1]:  # who goes first alternates too
                seconds.append(timed(step, args.block))
    bare_close()
    ours_close()
    per_block = args.block * args.envs
    bare_sps, ours_sps = per_block * blocks / sum(bare_seconds), per_block * blocks / sum(ours_seconds)
    block_ratios = [b / o for b, o in zip(bare_seconds, ours_seconds)]
    print(f"{args.game}, {args.envs} envs, {args.threads} threads, device {args.device}; {blocks} alternating "
          f"blocks of {per_block} agent steps a side ({steal})")
    print(f"bare AtariVectorEnv: {bare_sps:8.0f} steps/s ({bare_sps * 4:8.0f} frames/s)")
    print(f"rlkit Rollout:       {ours_sps:8.0f} steps/s ({ours_sps * 4:8.0f} frames/s)   ratio: "
          f"{ours_sps / bare_sps:.2f}x (median of blocks {statistics.median(block_ratios):.2f}x)")


if __name__ == "__main__":
    main()
