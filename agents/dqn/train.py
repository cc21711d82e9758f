"""DQN training loop (Mnih et al. 2015, with Double-DQN, dueling, n-step and prioritized options).

Reads top to bottom like CleanRL's dqn_atari.py: act, learn while the emulators step, store,
log, checkpoint. The learner's update overlaps with environment stepping in ale-py's threads.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from rlkit.agents.dqn.actor import EpsilonGreedyActor, linear_epsilon, require_discrete
from rlkit.agents.dqn.config import AgentConfig
from rlkit.agents.dqn.learner import DQNLearner
from rlkit.agents.dqn.network import QNetwork
from rlkit.agents.networks import is_pixels
from rlkit.checkpoint import rng_state, set_rng_state
from rlkit.config import MAX_NUM_ENVS, warn_unused, warn_zero_lr
from rlkit.console import say, warn
from rlkit.envs import make_vec
from rlkit.errors import DamagedState, UserError
from rlkit.replay import ReplayBuffer
from rlkit.rollout import Rollout
from rlkit.run import Run, next_multiple
from rlkit.vec import VecEnv


def train(run: Run) -> None:
    """Train DQN for `train.total_steps` environment steps, resuming from `run.checkpoint` if set."""
    with contextlib.closing(make_vec(run.config.env)) as env:  # closed on every way out
        train_on(run, env)


def make_replay(agent: AgentConfig, env: VecEnv, seed: np.random.SeedSequence) -> ReplayBuffer:
    """The replay for `env`'s observations, its size printed. Frames the adapter stacks
    (`env.frame_stack` > 1) are stored once each; any other array is stored whole."""
    if agent.buffer_size < agent.batch_size:
        raise UserError(f"agent.buffer_size: {agent.buffer_size} is less than agent.batch_size "
                        f"({agent.batch_size}); the buffer must hold a batch")
    shape, dtype = env.single_observation_space.shape, env.single_observation_space.dtype
    stack = shape[0] if env.frame_stack > 1 else 1
    replay = ReplayBuffer(agent.buffer_size, env.num_envs, shape[1:] if stack > 1 else shape, dtype, stack=stack,
                          n_step=agent.n_step, gamma=agent.gamma, prioritized=agent.prioritized,
                          alpha=agent.priority_alpha, seed=seed)
    size = f"{replay.nbytes / 2**30:.2f} GiB" if replay.nbytes >= 2**30 else f"{replay.nbytes / 2**20:.1f} MiB"
    say(f"replay buffer: {size} for {agent.buffer_size:,} transitions")
    return replay


def saved_counter(state: dict, key: str, step: int) -> int:
    """`next_update` or `next_sync` from a checkpoint saved at `step`: the loop left it past the
    previous vector step, so at most `env.num_envs` behind; an older one (a damaged or edited file)
    would make the loop catch up with millions of updates before its next step."""
    value = state[key]
    if type(value) is not int or value <= step - MAX_NUM_ENVS:
        raise DamagedState(f"its {key} is {value!r}, not a step counter a run saves at step {step:,}")
    return value


def train_on(run: Run, env: VecEnv) -> None:
    """Train on `env`, a vector env made from `run.config.env` (the caller closes it)."""
    cfg, agent, device = run.config, run.config.agent, run.device
    require_discrete(cfg, env.single_action_space)
    num_envs, num_actions = env.num_envs, int(env.single_action_space.n)
    actor_seed, replay_seed = np.random.SeedSequence(cfg.seed).spawn(2)  # independent streams
    replay = make_replay(agent, env, replay_seed)
    obs_space = env.single_observation_space
    if is_pixels(obs_space):
        warn_unused(agent, "agent", ("hidden",), "pixel observations go through the Nature CNN, whose layers are fixed")
    if not agent.prioritized:
        warn_unused(agent, "agent", ("priority_alpha", "priority_beta"), "agent.prioritized is off")
    warn_zero_lr(agent)
    logger = run.start()  # seeds everything, so networks initialise reproducibly
    q_net = QNetwork(obs_space, num_actions, agent.hidden, agent.dueling).to(device)
    learner = DQNLearner(q_net, agent)
    actor = EpsilonGreedyActor(q_net, num_actions, seed=actor_seed)
    step, next_update, next_sync = run.start_step, agent.learning_starts, agent.target_update_every
    if run.checkpoint:
        state = run.checkpoint
        with run.restoring():
            learner.load_state_dict(state["learner"])
            actor.rng.bit_generator.state = state["actor_rng"]
            if "replay_rng" in state:  # absent from checkpoints written before it was saved
                replay.rng.bit_generator.state = state["replay_rng"]
            set_rng_state(state["rng"])
            next_update, next_sync = (saved_counter(state, key, step) for key in ("next_update", "next_sync"))
            saved = run.load_replay()
            if saved is not None:
                replay.load_state(saved, f"{run.dir / 'checkpoints' / state['replay_file']}", num_actions)
                replay.end_episodes()  # the envs restart: stored episodes end at their last step
            del saved  # as large as the buffer (GiBs on Atari): not held for the rest of the run
    # Episodes in flight at a checkpoint are not saved; a resumed run starts fresh ones.
    rollout = Rollout(env, device, seed=cfg.seed + step)
    # Updates wait for this many stored transitions: on a fresh run `learning_starts`, capped at 90% of
    # `buffer_size`; after a resume without a saved replay it refills the buffer first.
    warmup = min(agent.learning_starts, agent.buffer_size * 9 // 10)
    need = max(warmup, agent.batch_size)
    missing = need - len(replay)  # transitions to collect before the first update
    total = cfg.train.total_steps
    no_update = step < total <= max(next_update, step + missing)  # updates also wait for step next_update
    if no_update and next_update > step + missing:  # learning_starts past 90% of the buffer
        warn(f"warning: no update will run: updates start at step {next_update:,} (agent.learning_starts) and the "
             f"run ends at train.total_steps={total:,}; this run only collects experience")
    elif no_update:
        key = "agent.batch_size" if agent.batch_size > warmup else "agent.learning_starts"
        warn(f"warning: no update will run: the buffer needs {missing:,} more transitions ({key}) and "
             f"train.total_steps={total:,} leaves {total - step:,} steps; this run only collects experience")
    updates = learner.updates
    metrics: dict = {}
    learn_seconds = 0.0  # running total, like rollout.seconds
    next_log = next_multiple(step, cfg.train.log_every)  # same grid after a resume
    next_checkpoint = next_multiple(step, cfg.train.checkpoint_every)
    epsilon_steps = agent.epsilon_fraction * cfg.train.total_steps

    def save() -> None:
        state = {"learner": learner.state_dict(), "actor_rng": actor.rng.bit_generator.state,
                 "replay_rng": replay.rng.bit_generator.state, "rng": rng_state(),
                 "next_update": next_update, "next_sync": next_sync}
        run.save(step, state, replay.state() if cfg.train.save_replay else None)

    logger.start_clock()  # set-up and restore are not training time
    while step < cfg.train.total_steps and not run.stop_requested:
        epsilon = linear_epsilon(step, agent.epsilon_start, agent.epsilon_end, epsilon_steps)
        actions = rollout.timed_act(actor.act, rollout.obs, epsilon)
        rollout.send(actions)

        # Learn while the emulators step (ale-py runs them in its own threads).
        learn_start = time.perf_counter()
        while step >= next_update:
            if len(replay) >= need:
                beta = agent.priority_beta + (1.0 - agent.priority_beta) * step / cfg.train.total_steps
                for _ in range(agent.gradient_steps):
                    batch = replay.sample(agent.batch_size, device, beta=beta)
                    metrics = learner.update(batch)
                    if agent.prioritized:
                        replay.update_priorities(batch.indices, metrics["td_error"].cpu().numpy())
            next_update += agent.train_frequency
        while step >= next_sync:  # several envs can cross more than one sync in one vector step
            learner.sync_target()
            next_sync += agent.target_update_every
        learn_seconds += time.perf_counter() - learn_start

        transition = rollout.recv()
        result = transition.step
        replay.add(transition.obs, transition.actions, result.reward, result.terminated, result.reset,
                   result.final_obs)
        step += num_envs
        logger.episodes(result.episode_returns, result.episode_lengths, step, result.reset)

        if step >= next_log:
            run.check_finite(step, q_net.state_dict())
            if metrics:
                logger.scalar("train/loss", metrics["loss"].item(), step)
                logger.scalar("train/q_mean", metrics["q_mean"].item(), step)
            logger.scalar("train/epsilon", epsilon, step)
            logger.scalar("train/lr", learner.optimizer.param_groups[0]["lr"], step)
            logger.phases({**rollout.seconds, "learn": learn_seconds}, step)
            logger.progress(step, "" if metrics else "no learning yet, ETA optimistic")
            next_log = next_multiple(step, cfg.train.log_every)
        if step >= next_checkpoint:
            save()
            next_checkpoint = next_multiple(step, cfg.train.checkpoint_every)
    save()
    logger.progress(step)
    if learner.updates == updates and len(replay) < need and step >= total > run.start_step and not no_update:
        warn(f"warning: no update ran: the replay never had {need:,} transitions ready to sample (each env's newest "
             f"agent.n_step={agent.n_step:,} wait for their n-step return), so the weights did not change")
