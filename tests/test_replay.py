"""Replay buffer against a naive reference that keeps every full transition."""

import numpy as np
import pytest
import torch

from rlkit.frame_stack import gather_stacks
from rlkit.replay import ReplayBuffer
from rlkit.sumtree import SumTree

STACK, GAMMA = 4, 0.9


def simulate(num_envs, steps, seed):
    """A fake vector env whose frames encode (env, step); returns the step records and reference."""
    rng = np.random.default_rng(seed)
    frames = lambda e, t: np.array([e + 1, t + 1], dtype=np.int32)  # noqa: E731, never zero
    stacks = [np.zeros((STACK, 2), np.int32) for _ in range(num_envs)]
    for e in range(num_envs):
        stacks[e][-1] = frames(e, 0)
    records, reference = [], {}
    t_counter = np.ones(num_envs, dtype=int)
    for _ in range(steps):
        obs = np.stack(stacks)
        actions = rng.integers(0, 6, num_envs)
        rewards = rng.normal(size=num_envs).astype(np.float32)
        life_loss = rng.random(num_envs) < 0.05  # terminated, no reset
        game_over = rng.random(num_envs) < 0.04  # terminated and reset
        truncated = (rng.random(num_envs) < 0.03) & ~game_over  # reset, bootstrap
        reset = game_over | truncated
        terminated = life_loss | game_over
        final_obs = np.zeros_like(obs)
        next_obs = np.zeros_like(obs)
        for e in range(num_envs):
            nxt = np.concatenate([stacks[e][1:], frames(e, t_counter[e])[None]])
            t_counter[e] += 1
            if reset[e]:
                final_obs[e] = nxt
                stacks[e] = np.zeros((STACK, 2), np.int32)
                stacks[e][-1] = frames(e, t_counter[e])
                t_counter[e] += 1
            else:
                stacks[e] = nxt
            next_obs[e] = nxt
            key = tuple(obs[e, -1])
            reference[key] = dict(obs=obs[e], next=nxt, reward=rewards[e], terminated=terminated[e],
                                  stop=terminated[e] or reset[e])
        records.append((obs, actions, rewards, terminated, reset, final_obs))
    return records, reference


def expected_n_step(reference, key, n):
    """Walk the reference chain of transitions from `key` for up to n steps."""
    ret, discount = 0.0, 1.0
    item = reference[key]
    for _ in range(n):
        ret += discount * item["reward"]
        discount *= GAMMA
        boot = item["next"]
        if item["terminated"]:
            return ret, 0.0, boot
        if item["stop"]:
            return ret, discount, boot
        item = reference[tuple(boot[-1])]
    return ret, discount, boot


@pytest.mark.parametrize("n_step", [1, 3])
@pytest.mark.parametrize("prioritized", [False, True])
def test_stacks_and_returns_match_reference_across_wraparound(n_step, prioritized):
    num_envs = 3
    buffer = ReplayBuffer(capacity=150, num_envs=num_envs, frame_shape=(2,), frame_dtype=np.int32,
                          stack=STACK, n_step=n_step, gamma=GAMMA, prioritized=prioritized, seed=0)
    records, reference = simulate(num_envs, steps=400, seed=1)  # wraps the ring several times
    for i, record in enumerate(records):
        buffer.add(*record)
        if i > 60 and i % 7 == 0:
            batch = buffer.sample(64, torch.device("cpu"))
            obs, nxt = batch.obs.numpy(), batch.next_obs.numpy()
            for b in range(64):
                key = tuple(obs[b, -1])
                ref = reference[key]
                np.testing.assert_array_equal(obs[b], ref["obs"])
                ret, discount, boot = expected_n_step(reference, key, n_step)
                assert batch.returns[b].item() == pytest.approx(ret, rel=1e-5, abs=1e-5)
                assert batch.discounts[b].item() == pytest.approx(discount, rel=1e-6)
                if discount > 0:
                    np.testing.assert_array_equal(nxt[b], boot)
            if prioritized:
                buffer.update_priorities(batch.indices, np.random.default_rng(i).random(64))


def test_episode_start_is_zero_padded_like_the_emulator():
    buffer = ReplayBuffer(capacity=100, num_envs=1, frame_shape=(2,), frame_dtype=np.int32,
                          stack=STACK, n_step=1, gamma=GAMMA, seed=0)
    records, reference = simulate(1, steps=80, seed=5)
    for record in records:
        buffer.add(*record)
    batch = buffer.sample(512, torch.device("cpu"))
    padded = [o for o in batch.obs.numpy() if (o[0] == 0).all()]
    assert padded, "episode starts must be sampled with zero padding"
    for o in padded:
        np.testing.assert_array_equal(o, reference[tuple(o[-1])]["obs"])


def test_atari_memory_for_a_million_transitions_stays_under_7_5_gb():
    need = ReplayBuffer.nbytes_for((1_000_000, 1), (84, 84), np.uint8)
    assert need < 7.5e9


@pytest.mark.parametrize("num_envs", [1, 3, 7])
def test_a_full_buffer_holds_at_least_its_capacity(num_envs):
    """Capacity split over envs rounds up: buffer_size = batch_size = 32 over 3 envs once held only
    30 sampleable transitions, so learning never started."""
    replay = ReplayBuffer(capacity=32, num_envs=num_envs, frame_shape=(2,), frame_dtype=np.float32, stack=1)
    for _ in range(200):
        zeros = np.zeros(num_envs)
        replay.add(np.ones((num_envs, 2)), zeros.astype(np.int64), zeros, zeros > 0, zeros > 0, np.ones((num_envs, 2)))
    assert len(replay) >= 32
    assert replay.sample(32, torch.device("cpu")).obs.shape == (32, 2)


def test_a_step_for_another_number_of_envs_is_refused_and_writes_nothing():
    """The compiled writer indexes by env: 4 rows into an 8-env buffer once advanced all 8 heads and
    read past the arrays (an actor holding half the envs must get a buffer of its own)."""
    replay = ReplayBuffer(capacity=64, num_envs=8, frame_shape=(2,), frame_dtype=np.float32, stack=1)
    zeros = np.zeros(4)
    with pytest.raises(ValueError, match="obs has 4 rows for a buffer of 8 envs"):
        replay.add(np.ones((4, 2)), zeros.astype(np.int64), zeros, zeros > 0, zeros > 0, np.ones((4, 2)))
    with pytest.raises(ValueError, match="final_obs has 4 rows"):
        replay.add(np.ones((8, 2)), np.zeros(8, np.int64), np.zeros(8), np.zeros(8, bool), np.zeros(8, bool),
                   np.ones((4, 2)))
    assert (replay.head == 0).all() and (replay.count == 0).all()


@pytest.mark.parametrize("prioritized", [False, True])
def test_buffer_refuses_to_start_exactly_when_memory_is_short(monkeypatch, prioritized):
    import rlkit.memory
    from rlkit.errors import UserError

    make = lambda: ReplayBuffer(capacity=1000, num_envs=2, frame_shape=(84, 84), frame_dtype=np.uint8,  # noqa: E731
                                stack=4, prioritized=prioritized)
    need = make().nbytes
    assert ReplayBuffer.nbytes_for((make().slots, 2), (84, 84), np.uint8, prioritized) == need  # the check counts all
    monkeypatch.setattr(rlkit.memory, "available_memory", lambda: need - 1)
    with pytest.raises(UserError, match="agent.buffer_size: the replay buffer needs"):
        make()
    monkeypatch.setattr(rlkit.memory, "available_memory", lambda: need)
    assert make().nbytes == need


def test_sumtree_samples_in_proportion_to_priority():
    tree = SumTree(5)
    tree.update(np.arange(5), np.array([1.0, 0.0, 2.0, 3.0, 4.0]))
    rng = np.random.default_rng(0)
    leaves = tree.find(rng.random(100_000) * tree.total)
    counts = np.bincount(leaves, minlength=5) / 100_000
    np.testing.assert_allclose(counts, [0.1, 0.0, 0.2, 0.3, 0.4], atol=0.01)
    tree.update(np.array([3, 3]), np.array([0.0, 0.0]))
    assert tree.total == pytest.approx(7.0)
    tree.update(np.array([], dtype=np.int64), np.array([]))  # nothing to change (no sampled slot left)
    assert tree.total == pytest.approx(7.0)


def test_sumtree_find_puts_a_mass_on_a_boundary_in_the_next_leaf():
    """Leaf i holds masses [sum of priorities before it, that sum + its own): a mass exactly on a
    boundary belongs to the next leaf with priority, never to the one it closes or to an empty one."""
    tree = SumTree(4)
    tree.update(np.arange(4), np.array([1.0, 0.0, 2.0, 3.0]))  # intervals [0, 1), empty, [1, 3), [3, 6)
    np.testing.assert_array_equal(tree.find([0.0, 1.0, 3.0, 5.5]), [0, 2, 3, 3])


def test_prioritized_sampling_follows_updated_priorities():
    buffer = ReplayBuffer(capacity=64, num_envs=1, frame_shape=(2,), frame_dtype=np.int32, stack=1,
                          n_step=1, prioritized=True, alpha=1.0, seed=0)
    records, _ = simulate(1, steps=40, seed=2)
    for obs, actions, rewards, terminated, reset, final_obs in records:
        buffer.add(obs[:, -1], actions, rewards, terminated, reset, final_obs[:, -1])
    batch = buffer.sample(16, torch.device("cpu"))
    favourite = batch.indices[0]
    td = np.full(len(batch.indices), 1e-3)
    td[batch.indices == favourite] = 1000.0
    buffer.update_priorities(batch.indices, td)
    again = buffer.sample(64, torch.device("cpu"))
    assert (again.indices == favourite).mean() > 0.8
    # importance weights (N * P(i)) ** -beta, scaled by the batch's largest: the favourite gets the smallest
    probs = buffer.tree.get(again.indices) / buffer.tree.total
    expected = (len(buffer) * probs) ** -0.4
    np.testing.assert_allclose(again.weights.numpy(), expected / expected.max(), rtol=1e-5)
    assert again.weights[again.indices == favourite].max() < again.weights[again.indices != favourite].min()


def test_n_step_returns_by_hand():
    """One env, gamma 0.5, n = 3: rewards 1, 2, 3 then a termination; then 4, 5 and a truncation."""
    buffer = ReplayBuffer(capacity=50, num_envs=1, frame_shape=(1,), frame_dtype=np.float32, stack=1,
                          n_step=3, gamma=0.5, seed=0)
    steps = [  # (frame, reward, terminated, reset)
        (10, 1.0, False, False), (11, 2.0, False, False), (12, 3.0, True, True),
        (20, 4.0, False, False), (21, 5.0, False, True),  # truncated: reset without termination
        (30, 0.0, False, False), (31, 0.0, False, False), (32, 0.0, False, False), (33, 0.0, False, False),
    ]
    final = {12: 13.0, 21: 22.0}
    for frame, reward, terminated, reset in steps:
        buffer.add(np.array([[frame]], np.float32), np.array([0]), np.array([reward], np.float32),
                   np.array([terminated]), np.array([reset]), np.array([[final.get(frame, 0.0)]], np.float32))
    starts = {10: 0, 11: 1, 12: 2, 20: 4, 21: 5}  # slot of each frame (3 and 6 hold final frames)
    rows = np.array(list(starts.values()))
    returns, discounts, boot = buffer._n_step(rows, np.zeros(len(rows), dtype=np.int64))
    expected = {
        10: (1 + 0.5 * 2 + 0.25 * 3, 0.0),  # terminates within 3 steps: no bootstrap
        11: (2 + 0.5 * 3, 0.0),
        12: (3.0, 0.0),
        20: (4 + 0.5 * 5, 0.25),  # truncated after 2 steps: bootstrap from the final frame, gamma^2
        21: (5.0, 0.5),
    }
    for i, frame in enumerate(starts):
        assert returns[i] == pytest.approx(expected[frame][0]) and discounts[i] == pytest.approx(expected[frame][1])
    assert buffer.frames[boot[3], 0, 0] == 22.0 and buffer.frames[boot[4], 0, 0] == 22.0


@pytest.mark.parametrize("stack, dtype", [(4, np.uint8), (3, np.uint8), (4, np.int32)])
def test_gathered_stacks_equal_numpy_indexing_and_are_channels_last(stack, dtype):
    rng = np.random.default_rng(stack)
    frames = rng.integers(1, 250, (40, 3, 84, 84)).astype(dtype)  # (slots, envs, H, W)
    rows, envs = rng.integers(0, 40, (32, stack)), rng.integers(0, 3, 32)
    keep = rng.random((32, stack)) < 0.8
    expected = frames[rows, envs[:, None]]
    expected[~keep] = 0
    stacks = gather_stacks(frames, rows, envs, keep)
    np.testing.assert_array_equal(stacks, expected)
    assert torch.from_numpy(stacks).is_contiguous(memory_format=torch.channels_last)


def test_a_restored_replay_ends_its_episodes_before_the_resumed_ones():
    """Save mid-episode, load into a new buffer, go on with a fresh episode (as a resumed run does):
    no n-step return or stack may run from the old episode into the new one."""
    def add(buffer, stack_frames, reward):
        obs = np.array([stack_frames], np.float32)[:, :, None]  # (1 env, 2 stacked, 1)
        buffer.add(obs, np.array([0]), np.array([reward], np.float32), np.array([False]), np.array([False]), obs)

    make = lambda: ReplayBuffer(capacity=50, num_envs=1, frame_shape=(1,), frame_dtype=np.float32,  # noqa: E731
                                stack=2, n_step=3, gamma=0.5, seed=0)
    before = make()
    for t in range(1, 11):  # episode A: frames 1..10, reward 1 each, no end in sight at the checkpoint
        add(before, [t - 1 if t > 1 else 0, t], 1.0)
    after = make()
    after.load_state({key: value.copy() for key, value in before.state().items()})
    after.end_episodes()
    for t in range(100, 106):  # episode B after the resume: reward 7 each
        add(after, [t - 1 if t > 100 else 0, t], 7.0)

    frame_of = lambda rows: after.frames[rows, 0, 0]  # noqa: E731
    slot = {float(frame_of(r)): r for r in range(16)}
    rows = np.array([slot[8.0], slot[9.0]])
    returns, discounts, boot = after._n_step(rows, np.zeros(2, dtype=np.int64))
    np.testing.assert_allclose(returns, [1 + 0.5, 1.0])  # cut at frame 10, whose step was dropped
    np.testing.assert_allclose(discounts, [0.25, 0.5])
    np.testing.assert_array_equal(frame_of(boot), [10.0, 10.0])
    assert not after._sampleable(np.array([slot[10.0]]), np.zeros(1, dtype=np.int64))[0]
    first_new = after._stacks(np.array([slot[100.0]]), np.zeros(1, dtype=np.int64))
    np.testing.assert_array_equal(first_new.reshape(-1), [0.0, 100.0])  # zero padded, as acted on


def test_a_saved_replay_of_another_shape_or_kind_is_a_user_error():
    from rlkit.errors import UserError

    make = lambda capacity, prioritized: ReplayBuffer(  # noqa: E731
        capacity=capacity, num_envs=1, frame_shape=(1,), frame_dtype=np.float32, prioritized=prioritized)
    with pytest.raises(UserError, match="agent.buffer_size"):
        make(20, False).load_state(make(30, False).state())
    with pytest.raises(UserError, match="agent.prioritized"):
        make(20, True).load_state(make(20, False).state())


def test_a_saved_replay_holds_only_the_slots_written():
    """A young buffer's snapshot leaves out the slots never written, and restores to the same samples."""
    make = lambda: ReplayBuffer(capacity=10_000, num_envs=2, frame_shape=(2,), frame_dtype=np.int32,  # noqa: E731
                                stack=STACK, n_step=3, prioritized=True, seed=3)
    before = make()
    records, _ = simulate(2, steps=60, seed=1)
    for record in records:
        before.add(*record)
    state = before.state()
    assert 60 <= len(state["frames"]) == before.count.max() < before.slots // 50
    after = make()
    after.load_state({key: value.copy() for key, value in state.items()})
    first, second = before.sample(64, torch.device("cpu")), after.sample(64, torch.device("cpu"))
    for field in ("obs", "next_obs", "actions", "returns", "discounts", "weights"):
        assert torch.equal(getattr(first, field), getattr(second, field)), field


def test_priorities_take_alpha_new_transitions_the_largest_and_weights_follow_beta():
    alpha = 0.5
    buffer = ReplayBuffer(capacity=64, num_envs=1, frame_shape=(2,), frame_dtype=np.int32, stack=1,
                          n_step=1, prioritized=True, alpha=alpha, seed=0)
    records, _ = simulate(1, steps=30, seed=3)
    for obs, actions, rewards, terminated, reset, final_obs in records[:-1]:
        buffer.add(obs[:, -1], actions, rewards, terminated, reset, final_obs[:, -1])
    batch = buffer.sample(8, torch.device("cpu"), beta=1.0)
    td = np.linspace(-3.0, 400.0, len(batch.indices))
    buffer.update_priorities(batch.indices, td)
    latest = {index: error for index, error in zip(batch.indices, td)}  # an index drawn twice keeps its last error
    np.testing.assert_allclose(buffer.tree.get(np.array(list(latest))),
                               (np.abs(np.array(list(latest.values()))) + 1e-6) ** alpha, rtol=1e-6)
    # a transition added after a TD error of 400 starts at the largest priority seen, 400 ** alpha
    before = set(np.flatnonzero(buffer.tree.get(np.arange(buffer.slots))))
    obs, actions, rewards, terminated, reset, final_obs = records[-1]
    buffer.add(obs[:, -1], actions, rewards, terminated, reset, final_obs[:, -1])
    new = set(np.flatnonzero(buffer.tree.get(np.arange(buffer.slots)))) - before
    assert len(new) == 1 and buffer.tree.get(np.array(list(new)))[0] == pytest.approx(400.0 ** alpha, rel=1e-5)
    for beta in (0.0, 0.5, 1.0):
        drawn = buffer.sample(32, torch.device("cpu"), beta=beta)
        expected = (len(buffer) * buffer.tree.get(drawn.indices) / buffer.tree.total) ** -beta
        np.testing.assert_allclose(drawn.weights.numpy(), expected / expected.max(), rtol=1e-5)



@pytest.mark.parametrize("prioritized", [False, True])
def test_the_first_sampleable_transition_has_finite_weights(prioritized):
    """len() counts cheaply and can still say 0 when one transition is ready; its weight stays 1."""
    buffer = ReplayBuffer(capacity=100, num_envs=1, frame_shape=(2,), frame_dtype=np.int32, stack=STACK,
                          n_step=3, prioritized=prioritized, seed=0, check_memory=False)
    records, _ = simulate(1, steps=40, seed=123)
    slots = np.arange(buffer.slots)
    for record in records:
        buffer.add(*record)
        if buffer._sampleable(slots, np.zeros_like(slots)).any():
            break
    np.testing.assert_array_equal(buffer.sample(4, torch.device("cpu")).weights.numpy(), np.ones(4))


def test_the_oldest_transition_with_a_whole_stack_in_a_full_buffer_takes_priority_updates():
    """A wrapped ring: the slot aged slots - stack still holds its whole stack, so it is sampleable
    and takes its new priority; the next older one lost its oldest frame and stays at zero."""
    buffer = ReplayBuffer(capacity=20, num_envs=1, frame_shape=(1,), frame_dtype=np.float32, stack=4, n_step=3,
                          prioritized=True, alpha=0.5, seed=0)
    assert buffer.slots == 20 + 4 + 3
    for t in range(40):  # step t's frame t + 1 goes to row t % 27; no episode ends
        obs = np.full((1, 4, 1), t + 1, np.float32)
        buffer.add(obs, np.array([0]), np.array([1.0], np.float32), np.array([False]), np.array([False]), obs)
    env = np.zeros(1, dtype=np.int64)
    boundary, older = 16, 15  # newest step 39 at row 12: step 16 (row 16) is aged 23 = 27 - 4, step 15 aged 24
    assert buffer._sampleable(np.array([boundary, older]), np.zeros(2, dtype=np.int64)).tolist() == [True, False]
    np.testing.assert_array_equal(buffer._stacks(np.array([boundary]), env).reshape(-1), [14, 15, 16, 17])
    buffer.update_priorities(np.array([boundary, older]), np.array([9.0, 9.0]))
    np.testing.assert_allclose(buffer.tree.get(np.array([boundary, older])), [9.0 ** 0.5, 0.0], rtol=1e-6)


def test_a_restored_prioritized_replay_keeps_the_largest_priority_for_new_transitions():
    """After a resume, a transition added enters at the largest priority seen before the save
    (400 ** alpha after a TD error of 400), not at the fresh buffer's 1."""
    def make():
        return ReplayBuffer(capacity=64, num_envs=1, frame_shape=(1,), frame_dtype=np.float32, stack=1, n_step=1,
                            prioritized=True, alpha=0.5, seed=0)

    def add(buffer, t):
        obs = np.array([[t]], np.float32)
        buffer.add(obs, np.array([0]), np.array([1.0], np.float32), np.array([False]), np.array([False]), obs)

    before = make()
    for t in range(20):
        add(before, t)
    batch = before.sample(4, torch.device("cpu"))
    before.update_priorities(batch.indices, np.full(4, 400.0))
    after = make()
    after.load_state({key: value.copy() for key, value in before.state().items()})
    old = set(np.flatnonzero(after.tree.get(np.arange(after.slots))))
    add(after, 20)
    (new,) = set(np.flatnonzero(after.tree.get(np.arange(after.slots)))) - old
    assert new == 19  # step 19's transition becomes sampleable once step 20, its successor, is stored
    assert after.tree.get(np.array([new]))[0] == pytest.approx(400.0 ** 0.5, rel=1e-6)
