"""The 8 symmetries of the square board (4 rotations x reflection) for data augmentation.

Go rules are invariant under them, so a (position, policy) training pair gives eight.
"""

from __future__ import annotations

import numpy as np


def transform_planes(planes: np.ndarray, k: int) -> np.ndarray:
    """Symmetry k (0..7) of the last two (board) axes: k % 4 quarter turns, then a flip if k >= 4."""
    out = np.rot90(planes, k % 4, axes=(-2, -1))
    return np.flip(out, axis=-1) if k >= 4 else out


def transform_policy(policy: np.ndarray, k: int) -> np.ndarray:
    """Symmetry k of policy vectors (..., N*N+1): the board part moves with the board, pass stays last."""
    n = int(round((policy.shape[-1] - 1) ** 0.5))
    board = transform_planes(policy[..., :-1].reshape(*policy.shape[:-1], n, n), k)
    return np.concatenate([board.reshape(*policy.shape[:-1], n * n), policy[..., -1:]], axis=-1)


def symmetries(planes: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """All eight (planes, policy) images of one training example, identity first."""
    return [(np.ascontiguousarray(transform_planes(planes, k)), transform_policy(policy, k)) for k in range(8)]
