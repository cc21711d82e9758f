"""Sharded (data-parallel) gradients give the minibatch's gradient, and a sharded PPO update the same update."""

import copy
import threading

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlkit.agents.data_parallel import MIN_SHARD_ROWS, ShardedGradients
from rlkit.agents.ppo.config import AgentConfig
from rlkit.agents.ppo.learner import PPOLearner
from rlkit.agents.ppo.network import ActorCritic
from rlkit.storage import RolloutStorage

PIXELS = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)


def test_the_shards_gradients_sum_to_the_whole_batchs_on_one_thread_each():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    rows = 3 * MIN_SHARD_ROWS + 1
    x, y = torch.randn(rows, 5), torch.randn(rows)
    torch.nn.functional.mse_loss(net(x).squeeze(-1), y).backward()
    expected = [p.grad.clone() for p in net.parameters()]

    seen = []  # (thread, its torch threads, rows, share) of every call

    def loss_of(rows: slice, share: float):
        seen.append((threading.get_ident(), torch.get_num_threads(), rows.stop - rows.start, share))
        return torch.nn.functional.mse_loss(net(x[rows]).squeeze(-1), y[rows]) * share, rows.start

    gradients = ShardedGradients(list(net.parameters()), threads=3)
    # what each call returned besides its loss, in shard order
    assert gradients.backward(loss_of, rows) == [0, MIN_SHARD_ROWS, 2 * MIN_SHARD_ROWS]
    for param, grad in zip(net.parameters(), expected):
        torch.testing.assert_close(param.grad, grad)
    assert sorted(n for _, _, n, _ in seen) == [MIN_SHARD_ROWS, MIN_SHARD_ROWS, MIN_SHARD_ROWS + 1]
    assert sum(share for *_, share in seen) == pytest.approx(1.0)
    assert all(threads == 1 for _, threads, _, _ in seen)
    assert threading.get_ident() not in {thread for thread, *_ in seen}  # the workers compute, not the caller


def test_a_batch_too_small_for_every_thread_gets_fewer_shards_with_more_threads_each():
    net = torch.nn.Linear(3, 1)
    calls = []

    def loss_of(rows: slice, share: float):
        calls.append((torch.get_num_threads(), rows, share))
        return net(torch.ones(rows.stop - rows.start, 3)).mean() * share, None

    gradients = ShardedGradients(list(net.parameters()), threads=4)
    gradients.backward(loss_of, 2 * MIN_SHARD_ROWS - 1)  # one shard, on all four threads
    assert calls == [(4, slice(0, 2 * MIN_SHARD_ROWS - 1), 1.0)]
    calls.clear()
    gradients.backward(loss_of, 2 * MIN_SHARD_ROWS)  # two shards, two threads each
    assert sorted(calls, key=lambda call: call[1].start) == [
        (2, slice(0, MIN_SHARD_ROWS), 0.5), (2, slice(MIN_SHARD_ROWS, 2 * MIN_SHARD_ROWS), 0.5)]
    torch.testing.assert_close(net.weight.grad, torch.ones(1, 3))


def test_the_caller_runs_on_one_thread_while_sharding():
    before = torch.get_num_threads()
    with ShardedGradients([], threads=2).caller_on_one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with ShardedGradients([], threads=1).caller_on_one_thread():  # nothing to shard: untouched
        assert torch.get_num_threads() == before


def test_a_sharded_ppo_update_matches_the_unsharded_one_on_pixels():
    """Two epochs of two minibatches of 128 frames, two shards each: weights and metrics agree to float rounding."""
    torch.manual_seed(3)
    actions = gym.spaces.Discrete(6)
    storage = RolloutStorage(32, 8, PIXELS, actions, torch.device("cpu"))
    net = ActorCritic(PIXELS, actions, [])
    rng = np.random.default_rng(0)
    for t in range(32):
        obs = torch.from_numpy(rng.integers(0, 256, (8, 4, 84, 84), dtype=np.uint8))
        storage.add(t, obs, *(x.clone() for x in net.act(obs)))
        storage.add_outcome(t, rng.normal(size=8).astype(np.float32), rng.random(8) < 0.1)
    storage.compute_advantages(torch.zeros(8), 0.99, 0.95)
    cfg = AgentConfig(num_minibatches=2, update_epochs=2, clip_vloss=True)

    results = []
    for threads in (1, 2):
        learner = PPOLearner(copy.deepcopy(net), cfg, threads=threads)
        torch.manual_seed(7)  # the same minibatch order
        results.append((learner.update(storage, remaining=1.0), learner.net.state_dict()))
    (metrics, weights), (sharded_metrics, sharded_weights) = results
    for key, value in metrics.items():
        assert np.isclose(sharded_metrics[key], value, rtol=1e-4, atol=1e-6), key
    assert not torch.equal(weights["critic_head.weight"], net.state_dict()["critic_head.weight"])  # it trained
    for name, value in weights.items():
        torch.testing.assert_close(sharded_weights[name], value, rtol=1e-4, atol=1e-6)
