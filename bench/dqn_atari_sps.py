"""DQN training throughput on Pong: rlkit against Stable-Baselines3, same hyperparameters, one run.

Both train the Nature-CNN DQN of CleanRL's dqn_atari / the SB3 zoo (1 env, batch 32, train every
4 steps, target copy every 1000) and are timed over the same number of steps after
`learning_starts`, so the figure is the speed of acting plus learning.

    python bench/dqn_atari_sps.py [--steps 4000] [--learning-starts 2000] [--threads 2] [--rounds 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from common import StealMeter, machine, sps_after


def sb3_sps(learning_starts: int, steps: int, seed: int) -> float:
    """SB3 DQN on ALE/Pong-v5 with its AtariWrapper (the zoo's preprocessing)."""
    import ale_py
    import gymnasium as gym
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    gym.register_envs(ale_py)
    env = make_atari_env("ALE/Pong-v5", n_envs=1, seed=seed,
                         env_kwargs={"frameskip": 1, "repeat_action_probability": 0.0})  # AtariWrapper skips 4
    env = VecFrameStack(env, n_stack=4)

    class Clock(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps == learning_starts:
                self.start = time.perf_counter()
            return True

    clock = Clock()
    model = DQN("CnnPolicy", env, learning_rate=1e-4, buffer_size=100_000, learning_starts=learning_starts,
                batch_size=32, gamma=0.99, train_freq=4, gradient_steps=1, target_update_interval=1000,
                exploration_fraction=0.1, exploration_final_eps=0.01, optimize_memory_usage=False,
                max_grad_norm=10, seed=seed, device="cpu", verbose=0)
    model.learn(total_timesteps=learning_starts + steps, callback=clock)
    return steps / (time.perf_counter() - clock.start)


def rlkit_sps(learning_starts: int, steps: int, seed: int, threads: int, device: str) -> float:
    """rlkit DQN from configs/pong_dqn.yaml with the same budget."""
    from rlkit.config import load_config
    from rlkit.run import Run
    from rlkit.agents.dqn import train

    root = Path(__file__).resolve().parents[1]
    log_every = 500
    overrides = [f"seed={seed}", f"device={device}", f"torch_threads={threads}", "agent.buffer_size=100000",
                 f"agent.learning_starts={learning_starts}", f"train.total_steps={learning_starts + steps}",
                 f"train.log_every={log_every}", "train.checkpoint_every=100000000", "train.progress_bar=false"]
    config = load_config(root / "configs/pong_dqn.yaml", overrides)
    with tempfile.TemporaryDirectory() as folder:
        run = Run.create(config, Path(folder) / "run", root / "configs/pong_dqn.yaml")
        try:
            train(run)
        finally:
            run.finish()
        return sps_after(run.dir, "train/epsilon", learning_starts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4000, help="timed steps after learning_starts")
    parser.add_argument("--learning-starts", type=int, default=2000)
    parser.add_argument("--threads", type=int, nargs="+", default=[2], help="torch threads, the same for both")
    parser.add_argument("--device", default="cpu", help="rlkit's device (SB3 runs on the CPU)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds; the best of each counts")
    args = parser.parse_args()
    print(machine())
    ours: dict[int, list[float]] = {threads: [] for threads in args.threads}
    theirs: dict[int, list[float]] = {threads: [] for threads in args.threads}
    for _ in range(args.rounds):  # alternate, so drifts in the machine's speed hit both sides
        for threads in args.threads:  # each thread count for both sides, so neither gets a tuning the other lacks
            with StealMeter() as steal:
                ours[threads].append(rlkit_sps(args.learning_starts, args.steps, args.seed, threads, args.device))
            print(f"rlkit DQN ({args.device}, {threads} torch threads): {ours[threads][-1]:7.1f} SPS ({steal})",
                  flush=True)
            torch.set_num_threads(threads)
            with StealMeter() as steal:
                theirs[threads].append(sb3_sps(args.learning_starts, args.steps, args.seed))
            print(f"Stable-Baselines3 DQN (cpu, {threads} torch threads): {theirs[threads][-1]:7.1f} SPS ({steal})",
                  flush=True)
    for threads in args.threads:
        ratios = [mine / sb3 for mine, sb3 in zip(ours[threads], theirs[threads])]
        print(f"{threads} threads, best of {args.rounds}: rlkit ({args.device}) {max(ours[threads]):.1f} SPS, "
              f"SB3 (cpu) {max(theirs[threads]):.1f} SPS, ratio {max(ours[threads]) / max(theirs[threads]):.2f}x; "
              f"per round {', '.join(f'{r:.2f}' for r in ratios)}, median {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
