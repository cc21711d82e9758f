"""Frame-deduplicated replay buffer with n-step returns and optional prioritized sampling.

Each environment writes its own column of a ring of shape (slots_per_env, num_envs): one frame
per step (the newest frame of the observation), never the four stacked copies and never a
separate next-observation array. Stacks are rebuilt at sample time, zero-padded before an
episode's first frame exactly as the emulator pads them while acting. When an episode ends the
environment's final frame gets a slot of its own (never sampled as a start), so a truncated
episode still bootstraps from its true final observation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numba import njit

from rlkit.errors import UserError
from rlkit.frame_stack import gather_stacks
from rlkit.memory import require_memory
from rlkit.sumtree import SumTree


@njit(cache=True, nogil=True)
def _write_step(frames, actions, rewards, terminated, reset, is_first, ring_frames, ring_actions, ring_rewards,
                ring_terminated, ring_ended, ring_first, ring_start, head, count):  # pragma: no cover - compiled
    """One vector step into each env's next slot, as one compiled call: right after the emulators
    run, each of the dozen numpy calls this replaces cost tens of microseconds (cold caches).
    The slot starts a transition; `is_first` says whether its frame starts an episode, and becomes `reset`."""
    slots = ring_frames.shape[0]
    for e in range(head.shape[0]):
        row = head[e]
        ring_frames[row, e] = frames[e]
        ring_actions[row, e] = actions[e]
        ring_rewards[row, e] = rewards[e]
        ring_terminated[row, e] = terminated[e]
        ring_ended[row, e] = reset[e]
        ring_first[row, e] = is_first[e]
        ring_start[row, e] = True
        head[e] = (row + 1) % slots
        count[e] += 1
        is_first[e] = reset[e]  # the env's next frame starts an episode


@njit(cache=True, nogil=True)
def _stack_window(rows, envs, first, stack):  # pragma: no cover - compiled
    """Slots of the `stack` frames ending at each row (oldest first), and whether each is kept: a
    frame is zeroed when a newer frame in its window starts an episode."""
    slots = first.shape[0]
    idx = np.empty((rows.shape[0], stack), dtype=np.int64)
    keep = np.empty((rows.shape[0], stack), dtype=np.bool_)
    for b in range(rows.shape[0]):
        newer_first = False
        for k in range(stack - 1, -1, -1):  # newest first
            row = (rows[b] - (stack - 1 - k)) % slots
            idx[b, k], keep[b, k] = row, not newer_first
            newer_first = newer_first or first[row, envs[b]]
    return idx, keep


@njit(cache=True, nogil=True)
def _n_step_returns(rows, envs, rewards, terminated, ended, n_step, gamma, returns, discounts, boot):  # pragma: no cover
    """From each start slot, sum up to n discounted rewards (float32, as stored), stopping after a
    termination (discount 0) or an episode's last step; `boot` is the slot after the last one summed."""
    slots = rewards.shape[0]
    for b in range(rows.shape[0]):
        row, e = rows[b], envs[b]
        total, discount = np.float32(0.0), np.float32(1.0)
        for _ in range(n_step):
            total += discount * rewards[row, e]
            discount *= gamma
            stop = terminated[row, e] or ended[row, e]
            if terminated[row, e]:
                discount = np.float32(0.0)
            row = (row + 1) % slots
            if stop:
                break
        returns[b], discounts[b], boot[b] = total, discount, row


@dataclass
class Batch:
    """A sampled minibatch on the learner's device."""

    obs: torch.Tensor
    actions: torch.Tensor
    returns: torch.Tensor  # n-step discounted reward sum
    next_obs: torch.Tensor  # observation to bootstrap from
    discounts: torch.Tensor  # gamma**m, or 0 where the episode terminated within n steps
    weights: torch.Tensor  # importance weights (ones without prioritized replay)
    indices: np.ndarray  # flat slot indices, for priority updates


class ReplayBuffer:
    """Stores frames once per step per environment; samples (stacked obs, action, n-step return)."""

    _PER_SLOT = ("frames", "actions", "rewards", "terminated", "ended", "first", "start")  # (slots, envs, ...)

    def __init__(self, capacity: int, num_envs: int, frame_shape: tuple, frame_dtype: np.dtype,
                 stack: int = 1, n_step: int = 1, gamma: float = 0.99, prioritized: bool = False,
                 alpha: float = 0.6, seed: int | np.random.SeedSequence = 0, check_memory: bool = True):
        self.num_envs = num_envs
        # Each env holds its share of `capacity`, rounded up so that the whole buffer holds at least
        # that many; extra slots absorb the final frames of ended episodes and the stack lookback.
        self.slots = max(-(-capacity // num_envs), n_step + stack + 2) + stack + n_step
        self.frame_shape, self.stack, self.n_step, self.gamma = tuple(frame_shape), stack, n_step, gamma
        shape = (self.slots, num_envs)
        need = self.nbytes_for(shape, frame_shape, frame_dtype, prioritized)
        if check_memory:
            require_memory(need, "the replay buffer", "agent.buffer_size")
        self.frames = np.zeros(shape + self.frame_shape, dtype=frame_dtype)
        self.actions = np.zeros(shape, dtype=np.int64)
        self.rewards = np.zeros(shape, dtype=np.float32)
        self.terminated = np.zeros(shape, dtype=bool)  # no bootstrap after this step
        self.ended = np.zeros(shape, dtype=bool)  # the next slot holds this episode's final frame
        self.first = np.zeros(shape, dtype=bool)  # first frame of an episode
        self.start = np.zeros(shape, dtype=bool)  # slot starts a transition (not a final frame)
        self.head = np.zeros(num_envs, dtype=np.int64)  # next slot to write, per env
        self.count = np.zeros(num_envs, dtype=np.int64)  # slots ever written, per env
        self.is_first = np.ones(num_envs, dtype=bool)  # the next frame written starts an episode
        self.rng = np.random.default_rng(seed)
        self.prioritized, self.alpha = prioritized, alpha
        self.tree = SumTree(self.slots * num_envs) if prioritized else None
        self.max_priority = 1.0

    @staticmethod
    def nbytes_for(shape: tuple, frame_shape: tuple, frame_dtype: np.dtype, prioritized: bool = False) -> int:
        """Bytes the arrays (and the sum tree, if prioritized) of a buffer with `shape` = (slots, envs) take."""
        slots = int(np.prod(shape))
        per_slot = int(np.prod(frame_shape)) * np.dtype(frame_dtype).itemsize + 8 + 4 + 4
        return slots * per_slot + (SumTree.nbytes_for(slots) if prioritized else 0)

    @property
    def nbytes(self) -> int:
        """Bytes this buffer's arrays (and sum tree) take."""
        return sum(getattr(self, name).nbytes for name in self._PER_SLOT) + (self.tree.tree.nbytes if self.tree else 0)

    def __len__(self) -> int:
        """About the transitions that can be sampled now: the slots old enough for a stack and n
        successors, one short per env, and counting each episode's final-frame slot (cheap per step)."""
        return int(np.maximum(np.minimum(self.count, self.slots) - self.n_step - self.stack, 0).sum())

    # ---- writing ------------------------------------------------------------------------
    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, terminated: np.ndarray,
            reset: np.ndarray, final_obs: np.ndarray) -> None:
        """Record one vector step: `obs` the observations acted on; `reset`/`final_obs` as in VecStep.
        Every array holds one row per env of the buffer (its compiled writer does not check)."""
        reset = np.asarray(reset, dtype=bool)
        for name, array in (("obs", obs), ("actions", actions), ("rewards", rewards), ("terminated", terminated),
                            ("reset", reset), ("final_obs", final_obs)):
            if len(array) != self.num_envs:
                raise ValueError(f"ReplayBuffer.add: {name} has {len(array)} rows for a buffer of {self.num_envs} envs")
        rows = self.head.copy() if self.tree is not None else None
        _write_step(self._newest_frame(obs), actions, rewards, terminated, reset, self.is_first, self.frames,
                    self.actions, self.rewards, self.terminated, self.ended, self.first, self.start, self.head,
                    self.count)
        if rows is not None:
            self._refresh_priorities(np.arange(self.num_envs), rows)
        if reset.any():  # each ended episode's final frame gets a slot of its own
            ended = np.flatnonzero(reset)
            self._write_final_frames(ended, self._newest_frame(final_obs[ended]))

    def _newest_frame(self, obs: np.ndarray) -> np.ndarray:
        return obs[:, -1] if self.stack > 1 else obs

    def _write_final_frames(self, envs: np.ndarray, frames: np.ndarray) -> None:
        """Each ended episode's final frame into its env's next slot: bootstrapped from, never a start."""
        rows = self.head[envs]
        self.frames[rows, envs] = frames
        for name in ("actions", "rewards", "terminated", "ended", "first", "start"):
            getattr(self, name)[rows, envs] = 0
        self.head[envs] = (rows + 1) % self.slots
        self.count[envs] += 1
        if self.tree is not None:
            self._refresh_priorities(envs, rows)

    def _refresh_priorities(self, envs: np.ndarray, rows: np.ndarray) -> None:
        """A slot becomes sampleable n steps after it was written; old slots stop being so."""
        ready = (rows - self.n_step) % self.slots
        ok = self._sampleable(ready, envs)
        stale = [(rows + k) % self.slots for k in range(self.stack)]  # newest and the lookback-less oldest
        leaves = np.concatenate([self._flat(r, envs) for r in stale] + [self._flat(ready[ok], envs[ok])])
        values = np.concatenate([np.zeros(len(envs) * len(stale)), np.full(ok.sum(), self.max_priority ** self.alpha)])
        self.tree.update(leaves, values)

    def _flat(self, rows: np.ndarray, envs: np.ndarray) -> np.ndarray:
        return rows * self.num_envs + envs

    # ---- sampling -----------------------------------------------------------------------
    def sample(self, batch_size: int, device: torch.device, beta: float = 0.4) -> Batch:
        """Uniform (or proportional to priority) minibatch with n-step returns."""
        if self.tree is not None:
            rows, envs, weights = self._sample_prioritized(batch_size, beta)
        else:
            rows, envs = self._sample_uniform(batch_size)
            weights = np.ones(batch_size, dtype=np.float32)
        returns, discounts, boot = self._n_step(rows, envs)
        to = lambda a: torch.from_numpy(a).to(device, non_blocking=True)  # noqa: E731
        return Batch(obs=to(self._stacks(rows, envs)), actions=to(self.actions[rows, envs]),
                     returns=to(returns), next_obs=to(self._stacks(boot, envs)), discounts=to(discounts),
                     weights=to(weights), indices=self._flat(rows, envs))

    def _sampleable(self, rows: np.ndarray, envs: np.ndarray) -> np.ndarray:
        """Start slots old enough to have n successors and young enough to keep their stack."""
        age = (self.head[envs] - 1 - rows) % self.slots
        filled = np.minimum(self.count[envs], self.slots)
        return self.start[rows, envs] & (age >= self.n_step) & (age <= filled - self.stack) & (age < filled)

    def _sample_uniform(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        filled = np.minimum(self.count, self.slots)
        choices = np.maximum(filled - self.stack - self.n_step + 1, 0)  # sampleable ages per env
        if choices.sum() == 0:
            raise RuntimeError("replay buffer has nothing to sample yet")
        rows = np.empty(batch_size, dtype=np.int64)
        envs = np.empty(batch_size, dtype=np.int64)
        todo = np.arange(batch_size)
        while len(todo):  # rejection only of final-frame slots (one per episode)
            e = self.rng.choice(self.num_envs, len(todo), p=choices / choices.sum())
            age = self.n_step + (self.rng.random(len(todo)) * choices[e]).astype(np.int64)
            r = (self.head[e] - 1 - age) % self.slots
            ok = self.start[r, e]
            rows[todo[ok]], envs[todo[ok]] = r[ok], e[ok]
            todo = todo[~ok]
        return rows, envs

    def _sample_prioritized(self, batch_size: int, beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        total = self.tree.total
        if total <= 0:
            raise RuntimeError("replay buffer has nothing to sample yet")
        # stratified: one draw in each of batch_size equal slices of the total mass
        masses = (np.arange(batch_size) + self.rng.random(batch_size)) * (total / batch_size)
        leaves = self.tree.find(np.minimum(masses, np.nextafter(total, 0)))
        priorities = self.tree.get(leaves)
        bad = priorities <= 0  # float round-off can land on an empty leaf: redraw those
        while bad.any():
            leaves[bad] = self.tree.find(self.rng.random(bad.sum()) * total)
            priorities = self.tree.get(leaves)
            bad = priorities <= 0
        probs = priorities / total
        size = max(len(self), 1)  # len() can still say 0 when the first transition is sampleable
        weights = (size * probs) ** (-beta)
        weights = (weights / weights.max()).astype(np.float32)
        return leaves // self.num_envs, leaves % self.num_envs, weights

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """Set sampled transitions' priorities to |TD error| (plus a small floor)."""
        priorities = np.abs(td_errors) + 1e-6
        self.max_priority = max(self.max_priority, float(priorities.max()))
        rows, envs = indices // self.num_envs, indices % self.num_envs
        still = self._sampleable(rows, envs)  # slots overwritten since sampling stay at zero
        self.tree.update(indices[still], priorities[still] ** self.alpha)

    def _stacks(self, rows: np.ndarray, envs: np.ndarray) -> np.ndarray:
        """Observations ending at `rows`: frames rows-stack+1..rows, zeroed before an episode start.

        Stacked frames come back as a (B, stack, H, W) view of channels-last memory (see frame_stack).
        """
        if self.stack == 1:
            return self.frames[rows, envs]
        idx, keep = _stack_window(rows, envs, self.first, self.stack)
        return gather_stacks(self.frames, idx, envs, keep)

    def _n_step(self, rows: np.ndarray, envs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """n-step return, bootstrap discount and bootstrap slot for each sampled start."""
        returns, discounts = np.empty(len(rows), dtype=np.float32), np.empty(len(rows), dtype=np.float32)
        boot = np.empty(len(rows), dtype=np.int64)
        _n_step_returns(rows, envs, self.rewards, self.terminated, self.ended, self.n_step, np.float32(self.gamma),
                        returns, discounts, boot)
        return returns, discounts, boot

    # ---- persistence --------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        """The arrays, for an optional replay snapshot beside a checkpoint. Slots never written
        (rows past the most any env has filled) are left out, so a young buffer saves small."""
        filled = int(min(self.count.max(initial=0), self.slots))
        state = {name: getattr(self, name)[:filled] for name in self._PER_SLOT}
        state.update(head=self.head, count=self.count, is_first=self.is_first, slots=np.array(self.slots))
        if self.tree is not None:
            state["tree"] = self.tree.tree
            state["max_priority"] = np.array(self.max_priority)
        return state

    def load_state(self, state: dict[str, np.ndarray], what: str = "the saved replay",
                   num_actions: int | None = None) -> None:
        """Restore what state() returned into this freshly made buffer; one configured differently,
        or arrays that this buffer could not have saved (a damaged or edited file, named `what`), is a
        UserError. The compiled writer and samplers trust these arrays, so they are checked first."""
        missing = [name for name in (*self._PER_SLOT, "head", "count", "is_first") if name not in state]
        if missing:
            raise UserError(f"{what}: has no '{missing[0]}' array, so it is not a replay rlkit saved")
        if ("tree" in state) != (self.tree is not None):
            raise UserError(f"agent.prioritized: the saved replay was written with prioritized="
                            f"{'tree' in state}; resume with the run's setting, or with train.save_replay=false "
                            "to refill the buffer instead")
        try:
            slots = int(state.get("slots", len(state["frames"])))  # older snapshots saved every slot
        except (TypeError, ValueError):
            raise UserError(f"{what}: its 'slots' is {state['slots']!r}, not a number of slots") from None
        saved_shape = (slots, *state["frames"].shape[1:])
        if saved_shape != self.frames.shape:
            raise UserError(f"{what}: holds (slots, envs, frame) {saved_shape}, where agent.buffer_size, agent.n_step "
                            f"and env.num_envs now make {self.frames.shape}; resume with the values it was saved with, or "
                            "with train.save_replay=false to refill the buffer instead")
        filled = len(state["frames"])
        self._check_arrays(state, filled, what)
        head, count = state["head"], state["count"]
        if not ((head >= 0) & (head < self.slots)).all() or (count < 0).any():
            raise UserError(f"{what}: its 'head' {head.tolist()} or 'count' {count.tolist()} lies outside the "
                            f"buffer's {self.slots} slots")
        for name in ("frames", "rewards"):
            if state[name].dtype.kind == "f" and not np.isfinite(state[name]).all():
                raise UserError(f"{what}: its '{name}' hold NaN or infinity")
        actions = state["actions"]
        if actions.size and (actions.min() < 0 or (num_actions is not None and actions.max() >= num_actions)):
            raise UserError(f"{what}: its 'actions' run from {actions.min()} to {actions.max()}, outside the "
                            f"env's {num_actions} actions")
        for name in self._PER_SLOT:
            getattr(self, name)[:filled] = state[name]
        for name in ("head", "count", "is_first"):
            getattr(self, name)[...] = state[name]
        if self.tree is not None:
            self.tree.tree[:] = state["tree"]
            self.max_priority = float(state["max_priority"])
        everywhere = self._sampleable(np.arange(self.slots)[:, None], np.arange(self.num_envs)[None, :])
        if np.minimum(self.count, self.slots).max() >= self.stack + self.n_step and not everywhere.any():
            # the uniform sampler would redraw forever: it rejects only final frames, one per episode
            raise UserError(f"{what}: none of its transitions can be sampled (every 'start' flag is off)")

    def _check_arrays(self, state: dict[str, np.ndarray], filled: int, what: str) -> None:
        """Each saved array has the shape and the kind of number its place in this buffer takes, and
        the priorities form a sum tree over this buffer's slots."""
        places = {name: getattr(self, name) for name in (*self._PER_SLOT, "head", "count", "is_first")}
        expected = {name: (array.shape, array.dtype) for name, array in places.items()}
        expected.update({name: ((filled, *places[name].shape[1:]), places[name].dtype) for name in self._PER_SLOT})
        if self.tree is not None:
            expected.update(tree=(self.tree.tree.shape, self.tree.tree.dtype), max_priority=((), np.dtype(np.float64)))
        for name, (shape, dtype) in expected.items():
            array = state.get(name)
            if array is None or array.shape != shape or not np.can_cast(array.dtype, dtype, "same_kind"):
                found = "missing" if array is None else f"{array.dtype} {array.shape}"
                raise UserError(f"{what}: its '{name}' array is {found}, where this buffer takes {dtype} {shape}")
        if self.tree is not None:
            tree, size = state["tree"], self.tree.size
            sums = np.allclose(tree[1:size], tree[2:2 * size:2] + tree[3:2 * size:2], rtol=1e-9, atol=0)
            padding = tree[size + self.slots * self.num_envs:]  # leaves past the buffer's slots
            if not (np.isfinite(tree).all() and (tree >= 0).all() and sums and not padding.any()
                    and np.isfinite(state["max_priority"]) and state["max_priority"] > 0):
                raise UserError(f"{what}: its priorities ('tree', 'max_priority') are not a sum tree over its slots")

    def end_episodes(self) -> None:
        """Close every env's stored episode at its last complete step, for a resume.

        The resumed envs start new episodes, and the observation that followed the newest stored
        step was never written: that slot becomes the episode's final frame (its step is dropped),
        so no n-step return or stack runs on into the next episode.
        """
        for env in np.flatnonzero(self.count > 0):
            last = (self.head[env] - 1) % self.slots
            if self.start[last, env]:  # not already a final frame
                self.start[last, env] = False
                before = (last - 1) % self.slots
                if self.count[env] > 1 and self.start[before, env]:
                    self.ended[before, env] = True
                if self.tree is not None:
                    self.tree.update(self._flat(np.array([last]), np.array([env])), np.zeros(1))
        self.is_first[:] = True
