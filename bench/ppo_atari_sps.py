"""rlkit PPO against Stable-Baselines3 PPO on Pong: environment steps per second, side by side.

Both train with CleanRL's ppo_atari hyperparameters (8 envs x 128 steps, 4 epochs of 4
minibatches, Nature CNN, the learning rate annealed to 0, the value loss clipped: SB3's
`clip_range_vf`, which regresses the clipped value alone where CleanRL takes the larger loss)
for the same number of steps; the first rollout's collection is a warm-up and is not timed.
Each timed block is one iteration's learning plus the next rollout, so SPS counts acting,
emulation and learning alike on both sides (the phase means printed cover the timed rollouts).
The two train in two processes that take turns on the CPU one iteration at a time
(bench/turns.py), so a drift in a shared machine's speed hits both alike.

    .venv/bin/python bench/ppo_atari_sps.py [--rollouts 6] [--threads 2]
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from pathlib import Path

from common import StealMeter, machine
from turns import BlockClock, paired_ratio, steps_per_second, take_turns, train_rlkit

ROLLOUT = 8 * 128  # env steps per PPO iteration, both sides


def rlkit_train(clock: BlockClock, total: int, threads: int, device: str) -> dict[str, float]:
    """rlkit PPO (configs/pong_ppo.yaml); returns its mean seconds per timed iteration in each phase."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    overrides = [f"train.total_steps={total}", f"train.log_every={ROLLOUT}", "train.checkpoint_every=100000000",
                 "train.progress_bar=false", f"device={device}", f"torch_threads={threads}"]
    with tempfile.TemporaryDirectory() as folder:
        run_dir = train_rlkit(clock, "pong_ppo.yaml", overrides, Path(folder))
        events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
        events.Reload()
        # one value per iteration (seconds since the previous log point). The timed blocks are learn k
        # plus rollout k + 1: the first rollout is the warm-up, the last learning phase is after the end
        seconds = {phase: [e.value for e in events.Scalars(f"perf/{phase}_seconds")]
                   for phase in ("act", "env", "learn")}
        timed = {"act": seconds["act"][1:], "env": seconds["env"][1:], "learn": seconds["learn"][:-1]}
        return {phase: sum(values) / len(values) for phase, values in timed.items()}


def sb3_train(clock: BlockClock, total: int, threads: int, device: str, sb3_malloc: bool) -> dict[str, float]:
    """SB3 PPO (CnnPolicy), the same hyperparameters; returns mean seconds per timed iteration in each phase.
    `sb3_malloc`: give SB3's process the glibc setting rlkit's training sets for itself."""
    if sb3_malloc:
        from rlkit.memory import keep_freed_memory

        keep_freed_memory()
    import ale_py
    import gymnasium
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    gymnasium.register_envs(ale_py)
    torch.set_num_threads(threads)
    collect: list[float] = []  # seconds of each rollout collection

    class Clock(BaseCallback):
        def _on_rollout_start(self) -> None:
            self.start, self.waited = time.perf_counter(), 0.0

        def _on_rollout_end(self) -> None:
            collect.append(time.perf_counter() - self.start - self.waited)

        def _on_step(self) -> bool:
            start = time.perf_counter()
            clock.step(self.num_timesteps)  # may wait out the other side's turn: not SB3's time
            self.waited += time.perf_counter() - start
            return True

    # AtariWrapper skips 4 frames itself, so the ALE env gets frameskip 1 and no sticky actions
    # (v5's defaults would emulate 16 frames a step): the same emulation work as rlkit's side.
    cudnn_flags = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    env = VecFrameStack(make_atari_env("ALE/Pong-v5", n_envs=8, seed=1,
                                       env_kwargs={"frameskip": 1, "repeat_action_probability": 0.0}),
                        n_stack=4)
    model = PPO("CnnPolicy", env, n_steps=128, batch_size=256, n_epochs=4, learning_rate=lambda remaining: 2.5e-4 * remaining,
                clip_range=0.1, clip_range_vf=0.1, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5, gamma=0.99,
                gae_lambda=0.95, device=device, seed=1, verbose=0)
    # SB3's seeding turns on deterministic cuDNN process-wide; rlkit runs without it, so SB3 should too
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn_flags
    model.learn(total_timesteps=total, callback=Clock())
    env.close()
    return {"rollout": sum(collect[1:]) / (len(collect) - 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=6, help="timed iterations of 1024 steps each")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, the same for both")
    parser.add_argument("--device", default="cpu", help="torch device for both (cpu, cuda)")
    parser.add_argument("--sb3-malloc", action="store_true",
                        help="give SB3 rlkit's glibc setting too (freed memory kept for reuse, rlkit/memory.py)")
    args = parser.parse_args()
    print(machine())
    total = (args.rollouts + 1) * ROLLOUT
    budget = dict(total=total, threads=args.threads, device=args.device)
    with StealMeter() as steal:
        (ours, phases), (theirs, sb3_phases) = take_turns(
            (functools.partial(rlkit_train, **budget),
             functools.partial(sb3_train, **budget, sb3_malloc=args.sb3_malloc)),
            block=ROLLOUT, timed_from=ROLLOUT, until=total)
    mine, sb3 = steps_per_second(ours), steps_per_second(theirs)
    print(f"per 1024 steps: rlkit act {phases['act']:.2f} s, env {phases['env']:.2f} s, learn {phases['learn']:.2f} s; "
          f"SB3 rollout (act + env) {sb3_phases['rollout']:.2f} s, learn {ROLLOUT / sb3 - sb3_phases['rollout']:.2f} s")
    print(f"{args.threads} torch threads each, device {args.device}, SB3 with glibc's "
          f"{'setting from rlkit' if args.sb3_malloc else 'default malloc'}, "
          f"{len(ours)} + {len(theirs)} timed iterations "
          f"({steal}): rlkit {mine:.1f} SPS, SB3 {sb3:.1f} SPS, "
          f"ratio {mine / sb3:.2f}x, paired median {paired_ratio(ours, theirs):.2f}x")


if __name__ == "__main__":
    main()
