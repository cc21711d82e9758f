"""Data-parallel gradients on a CPU: a minibatch split into shards, each on its own threads, gradients summed.

On a few cores oneDNN splits every convolution between its threads, and for PPO's minibatch of
256 Nature-CNN frames two threads run a training step only ~1.45x faster than one. Two shards of
128 frames on one thread each run ~1.8x faster: a forward and backward of the minibatch fell from
~170 to ~131 ms on the 2-core VM of bench/RESULTS.md. Small batches and MLPs lose instead (a DQN
batch of 32 frames: 24 -> 29 ms; a CartPole MLP: 1.1 -> 3.0 ms), so callers choose when to shard.

Every loss here is a mean over rows, so the minibatch's gradient is the sum of the shards' gradients
when each shard's loss is weighted by its share of the rows. The shards are cut the same way each
time and their gradients added in shard order, so a run stays reproducible from its seed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

T = TypeVar("T")

# Fewer rows than this per shard run slower per row (2 x 16 frames lost to one batch of 32); 64 is
# the smallest shard measured to win (2 x 64 against 128 frames: 75 against 78 ms).
MIN_SHARD_ROWS = 64


def cpu_threads(device: torch.device) -> int:
    """The threads a learner on `device` may shard over: torch's threads on a CPU, none on an accelerator."""
    return torch.get_num_threads() if device.type == "cpu" else 1


class ShardedGradients:
    """Computes each minibatch's gradient as the sum of its shards' gradients, over `threads` threads.

    A minibatch of `rows` rows gets `min(threads, rows // MIN_SHARD_ROWS)` shards (at least one),
    each computed on a worker with `threads // shards` torch threads of its own. With `threads` <= 1
    everything runs on the caller's thread, as a plain `backward()`.
    """

    def __init__(self, params: Sequence[torch.nn.Parameter], threads: int):
        self.params = list(params)
        self.threads = max(1, threads)
        self._pool = (ThreadPoolExecutor(self.threads, thread_name_prefix="rlkit-shard")
                      if self.threads > 1 else None)

    @contextlib.contextmanager
    def caller_on_one_thread(self) -> Iterator[None]:
        """Run the caller's own torch ops (minibatch gathers, optimizer steps) on one thread: its
        idle OpenMP threads would otherwise spin beside the shards' (a PPO update on Pong took
        2.37 s instead of 2.58, medians of 10 alternated, 2-core VM)."""
        if self._pool is None:
            yield
            return
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)

    def backward(self, loss_of: Callable[[slice, float], tuple[torch.Tensor, T]], rows: int) -> list[T]:
        """Set each parameter's `.grad` to the gradient of the sum of `loss_of(shard, share)` over
        the shards of `rows` rows (`share` = the shard's fraction of the rows); returns what each
        call gave besides its loss, in shard order."""
        if self._pool is None:
            loss, extra = loss_of(slice(0, rows), 1.0)
            for param in self.params:
                param.grad = None
            loss.backward()
            return [extra]
        shards = max(1, min(self.threads, rows // MIN_SHARD_ROWS))
        bounds = [rows * i // shards for i in range(shards + 1)]
        futures = [self._pool.submit(self._gradients, loss_of, slice(start, stop), (stop - start) / rows,
                                     self.threads // shards)
                   for start, stop in zip(bounds, bounds[1:])]
        results = [future.result() for future in futures]
        for i, param in enumerate(self.params):
            grads = [grads[i] for grads, _ in results if grads[i] is not None]
            param.grad = None
            if grads:
                param.grad = grads[0]
                for grad in grads[1:]:
                    param.grad.add_(grad)
        return [extra for _, extra in results]

    def _gradients(self, loss_of: Callable[[slice, float], tuple[torch.Tensor, T]], rows: slice, share: float,
                   threads: int) -> tuple[tuple[torch.Tensor | None, ...], T]:
        """One shard's gradients, computed on this worker with `threads` torch threads (a per-thread setting)."""
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        loss, extra = loss_of(rows, share)
        return torch.autograd.grad(loss, self.params, allow_unused=True), extra
