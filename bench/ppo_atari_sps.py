"""rlkit PPO against Stable-Baselines3 PPO on Pong: environment steps per second, side by side.

Both train with CleanRL's ppo_atari hyperparameters (8 envs x 128 steps, 4 epochs of 4
minibatches, Nature CNN) for the same number of steps; the first rollout + update is a warm-up
and is not timed. SPS counts whole iterations: acting, emulation and learning.

    .venv/bin/python bench/ppo_atari_sps.py --rollouts 4 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from common import StealMeter, machine

ROLLOUT = 8 * 128  # env steps per PPO iteration, both sides


def rlkit_sps(rollouts: int, threads: int, device: str) -> tuple[float, dict[str, float]]:
    """Train rlkit PPO (configs/pong_ppo.yaml) for 1 + `rollouts` iterations; SPS after the first."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from rlkit.config import agent_module, load_config
    from rlkit.run import Run

    config_path = Path(__file__).resolve().parents[1] / "configs" / "pong_ppo.yaml"
    overrides = [f"train.total_steps={(rollouts + 1) * ROLLOUT}", f"train.log_every={ROLLOUT}",
                 "train.checkpoint_every=100000000", "train.progress_bar=false", f"device={device}",
                 f"torch_threads={threads}"]
    with tempfile.TemporaryDirectory() as folder:
        run = Run.create(load_config(config_path, overrides), Path(folder) / "run", config_path)
        try:
            agent_module("ppo").train(run)
        finally:
            run.finish()
        events = EventAccumulator(str(run.dir), size_guidance={"scalars": 0})
        events.Reload()
        sps = events.Scalars("perf/sps")  # one per iteration, written after its update
        seconds = sps[-1].wall_time - sps[0].wall_time
        phases = {phase: sum(e.value for e in events.Scalars(f"perf/{phase}_seconds")[1:]) / rollouts
                  for phase in ("act", "env", "learn")}
    return (sps[-1].step - sps[0].step) / seconds, phases


def sb3_sps(rollouts: int, threads: int, device: str) -> tuple[float, dict[str, float]]:
    """Train SB3 PPO (CnnPolicy) with the same hyperparameters; SPS after the first iteration."""
    import ale_py
    import gymnasium
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    gymnasium.register_envs(ale_py)
    if threads:
        torch.set_num_threads(threads)

    class RolloutTimes(BaseCallback):
        def __init__(self):
            super().__init__()
            self.starts: list[float] = []
            self.ends: list[float] = []

        def _on_rollout_start(self) -> None:
            self.starts.append(time.perf_counter())

        def _on_rollout_end(self) -> None:
            self.ends.append(time.perf_counter())

        def _on_step(self) -> bool:
            return True

    # AtariWrapper skips 4 frames itself, so the ALE env gets frameskip 1 and no sticky actions
    # (v5's defaults would emulate 16 frames a step): the same emulation work as rlkit's side.
    cudnn_flags = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    env = VecFrameStack(make_atari_env("ALE/Pong-v5", n_envs=8, seed=1,
                                       env_kwargs={"frameskip": 1, "repeat_action_probability": 0.0}),
                        n_stack=4)
    model = PPO("CnnPolicy", env, n_steps=128, batch_size=256, n_epochs=4, learning_rate=2.5e-4,
                clip_range=0.1, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5, gamma=0.99,
                gae_lambda=0.95, device=device, seed=1, verbose=0)
    # SB3's seeding turns on deterministic cuDNN process-wide; rlkit runs without it, so SB3 should too
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn_flags
    times = RolloutTimes()
    model.learn(total_timesteps=(rollouts + 1) * ROLLOUT, callback=times)
    end = time.perf_counter()
    env.close()
    collect = sum(e - s for s, e in zip(times.starts[1:], times.ends[1:])) / rollouts
    return rollouts * ROLLOUT / (end - times.starts[1]), {"rollout": collect,
                                                          "learn": (end - times.starts[1]) / rollouts - collect}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=4, help="timed iterations of 1024 steps each")
    parser.add_argument("--threads", type=int, default=0, help="torch threads for both (0 = torch's default)")
    parser.add_argument("--repeats", type=int, default=1, help="alternate the two this many times; medians")
    parser.add_argument("--device", default="cpu", help="torch device for both (cpu, cuda)")
    args = parser.parse_args()
    print(machine())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} default threads, device {args.device}; "
          f"{args.rollouts} x {ROLLOUT} timed steps each after a 1024-step warm-up", flush=True)
    ours, theirs = [], []
    for _ in range(args.repeats):  # alternate, so a change in the machine's load hits both sides
        with StealMeter() as steal:
            sps, phases = rlkit_sps(args.rollouts, args.threads, args.device)
        ours.append(sps)
        print(f"rlkit PPO: {sps:7.1f} SPS   per 1024 steps: act {phases['act']:.2f} s, "
              f"env {phases['env']:.2f} s, learn {phases['learn']:.2f} s ({steal})", flush=True)
        with StealMeter() as steal:
            sps, phases = sb3_sps(args.rollouts, args.threads, args.device)
        theirs.append(sps)
        print(f"SB3 PPO:   {sps:7.1f} SPS   per 1024 steps: rollout (act + env) {phases['rollout']:.2f} s, "
              f"learn {phases['learn']:.2f} s ({steal})", flush=True)
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    print(f"median rlkit {ours_median:.1f} SPS, SB3 {theirs_median:.1f} SPS; "
          f"ratio rlkit / SB3: {ours_median / theirs_median:.2f}x")


if __name__ == "__main__":
    main()
