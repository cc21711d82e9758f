"""DQN training throughput on Pong: rlkit against Stable-Baselines3, same hyperparameters, one run.

Both train the Nature-CNN DQN of CleanRL's dqn_atari / the SB3 zoo (1 env, batch 32, train every
4 steps, target copy every 1000) and are timed over the same env steps after `learning_starts`
and one more block (the first updates' one-time costs, such as compiling rlkit's replay gather,
are not timed), so the figure is the speed of acting plus learning. The two train in two processes that take
turns on the CPU, `--block` env steps at a time (bench/turns.py), so a drift in a shared
machine's speed hits both alike; the paired median compares blocks that ran back to back.

    python bench/dqn_atari_sps.py [--steps 4000] [--learning-starts 2000] [--threads 2] [--block 200]
"""

from __future__ import annotations

import argparse
import functools
import tempfile
from pathlib import Path

from common import StealMeter, machine
from turns import BlockClock, paired_ratio, steps_per_second, take_turns, train_rlkit


def sb3_train(clock: BlockClock, learning_starts: int, total: int, seed: int, threads: int, device: str,
              sb3_malloc: bool) -> None:
    """SB3 DQN on ALE/Pong-v5 with its AtariWrapper (the zoo's preprocessing). `sb3_malloc`: give
    SB3's process the glibc setting rlkit's training sets for itself."""
    if sb3_malloc:
        from rlkit.memory import keep_freed_memory

        keep_freed_memory()
    import ale_py
    import gymnasium as gym
    import torch
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    torch.set_num_threads(threads)
    gym.register_envs(ale_py)
    env = make_atari_env("ALE/Pong-v5", n_envs=1, seed=seed,
                         env_kwargs={"frameskip": 1, "repeat_action_probability": 0.0})  # AtariWrapper skips 4
    env = VecFrameStack(env, n_stack=4)

    class Clock(BaseCallback):
        def _on_step(self) -> bool:
            clock.step(self.num_timesteps)
            return True

    cudnn_flags = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    model = DQN("CnnPolicy", env, learning_rate=1e-4, buffer_size=100_000, learning_starts=learning_starts,
                batch_size=32, gamma=0.99, train_freq=4, gradient_steps=1, target_update_interval=1000,
                exploration_fraction=0.1, exploration_final_eps=0.01, optimize_memory_usage=False,
                max_grad_norm=10, seed=seed, device=device, verbose=0)
    # SB3's seeding turns on deterministic cuDNN process-wide; rlkit runs without it, so SB3 should too
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn_flags
    model.learn(total_timesteps=total, callback=Clock())


def rlkit_train(clock: BlockClock, learning_starts: int, total: int, seed: int, threads: int, device: str) -> None:
    """rlkit DQN from configs/pong_dqn.yaml with the same budget; the clock is told of every step."""
    overrides = [f"seed={seed}", f"device={device}", f"torch_threads={threads}", "agent.buffer_size=100000",
                 f"agent.learning_starts={learning_starts}", f"train.total_steps={total}",
                 "train.checkpoint_every=100000000", "train.progress_bar=false"]
    with tempfile.TemporaryDirectory() as folder:
        train_rlkit(clock, "pong_dqn.yaml", overrides, Path(folder))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4000, help="timed steps, from one block after learning_starts")
    parser.add_argument("--learning-starts", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2, help="torch threads, the same for both")
    parser.add_argument("--device", default="cpu", help="the device of both (cpu, cuda)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--block", type=int, default=200, help="env steps a side runs before handing over")
    parser.add_argument("--sb3-malloc", action="store_true",
                        help="give SB3 rlkit's glibc setting too (freed memory kept for reuse, rlkit/memory.py)")
    args = parser.parse_args()
    print(machine())
    timed_from = args.learning_starts + args.block  # the first block of updates warms both sides up
    total = timed_from + args.steps
    budget = dict(learning_starts=args.learning_starts, total=total, seed=args.seed, threads=args.threads,
                  device=args.device)
    with StealMeter() as steal:
        (ours, _), (theirs, _) = take_turns((functools.partial(rlkit_train, **budget),
                                             functools.partial(sb3_train, **budget, sb3_malloc=args.sb3_malloc)),
                                            block=args.block, timed_from=timed_from, until=total)
    mine, sb3 = steps_per_second(ours), steps_per_second(theirs)
    print(f"{args.threads} torch threads each, SB3 with glibc's "
          f"{'setting from rlkit' if args.sb3_malloc else 'default malloc'}, "
          f"{len(ours)} + {len(theirs)} timed blocks of {args.block} steps "
          f"({steal}, {args.device}): rlkit {mine:.1f} SPS, SB3 {sb3:.1f} SPS, "
          f"ratio {mine / sb3:.2f}x, paired median {paired_ratio(ours, theirs):.2f}x")


if __name__ == "__main__":
    main()
