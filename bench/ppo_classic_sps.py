"""rlkit PPO against Stable-Baselines3 PPO on MountainCar-v0 with normalization: env steps per second.

Both train with the RL Zoo's MountainCar-v0 hyperparameters (configs/mountaincar_ppo.yaml: 16 envs
x 16 steps, 4 epochs of minibatches of 64, two 64-unit tanh MLPs) and its `normalize: true`:
rlkit's agent.norm_obs and agent.norm_reward, SB3's VecNormalize around a DummyVecEnv of 16 envs.
The two train in two processes that take turns on the CPU (bench/turns.py), 4096 steps a turn; the
first turn is a warm-up. Acting, stepping the envs, normalizing and learning all count.

    .venv/bin/python bench/ppo_classic_sps.py [--blocks 8] [--threads 1]
"""

from __future__ import annotations

import argparse
import functools
import tempfile
from pathlib import Path

from common import StealMeter, machine
from turns import BlockClock, paired_ratio, steps_per_second, take_turns, train_rlkit

BLOCK = 4096  # env steps per turn: 16 PPO iterations of 16 envs x 16 steps


def rlkit_train(clock: BlockClock, total: int, threads: int) -> None:
    """rlkit PPO with configs/mountaincar_ppo.yaml, in this process."""
    overrides = [f"train.total_steps={total}", "train.checkpoint_every=100000000", "train.progress_bar=false",
                 f"torch_threads={threads}"]
    with tempfile.TemporaryDirectory() as folder:
        train_rlkit(clock, "mountaincar_ppo.yaml", overrides, Path(folder))


def sb3_train(clock: BlockClock, total: int, threads: int) -> None:
    """SB3 PPO (MlpPolicy) with the same hyperparameters, behind VecNormalize."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    torch.set_num_threads(threads)

    class Clock(BaseCallback):
        def _on_step(self) -> bool:
            clock.step(self.num_timesteps)
            return True

    env = VecNormalize(make_vec_env("MountainCar-v0", n_envs=16, seed=1), gamma=0.99)
    model = PPO("MlpPolicy", env, n_steps=16, batch_size=64, n_epochs=4, learning_rate=3e-4, clip_range=0.2,
                ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5, gamma=0.99, gae_lambda=0.98, device="cpu", seed=1,
                verbose=0)
    model.learn(total_timesteps=total, callback=Clock())
    env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=8, help=f"timed turns of {BLOCK} steps each")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, the same for both (the config's 1)")
    args = parser.parse_args()
    print(machine())
    total = (args.blocks + 1) * BLOCK
    budget = dict(total=total, threads=args.threads)
    with StealMeter() as steal:
        (ours, _), (theirs, _) = take_turns(
            (functools.partial(rlkit_train, **budget), functools.partial(sb3_train, **budget)),
            block=BLOCK, timed_from=BLOCK, until=total)
    mine, sb3 = steps_per_second(ours), steps_per_second(theirs)
    print(f"{args.threads} torch thread(s) each, {len(ours)} + {len(theirs)} timed turns of {BLOCK} steps ({steal}): "
          f"rlkit {mine:.0f} SPS, SB3 {sb3:.0f} SPS, ratio {mine / sb3:.2f}x, "
          f"paired median {paired_ratio(ours, theirs):.2f}x")


if __name__ == "__main__":
    main()
