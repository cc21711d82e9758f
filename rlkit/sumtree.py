"""A sum tree over leaf priorities: O(log n) batched update and proportional sampling, in numpy."""

from __future__ import annotations

import numpy as np


class SumTree:
    """Binary tree in one array; leaf i lives at index `size + i` (size a power of two)."""

    def __init__(self, capacity: int):
        self.size = self.leaves_for(capacity)
        self.tree = np.zeros(2 * self.size, dtype=np.float64)

    @staticmethod
    def leaves_for(capacity: int) -> int:
        """Leaf count of a tree holding `capacity` priorities: the next power of two."""
        return 1 << max(1, int(np.ceil(np.log2(capacity))))

    @classmethod
    def nbytes_for(cls, capacity: int) -> int:
        """Bytes the tree for `capacity` priorities takes."""
        return 2 * cls.leaves_for(capacity) * np.dtype(np.float64).itemsize

    @property
    def total(self) -> float:
        """Sum of all priorities (the root)."""
        return float(self.tree[1])

    def get(self, leaves: np.ndarray) -> np.ndarray:
        """Priorities of the given leaves."""
        return self.tree[self.size + np.asarray(leaves)]

    def update(self, leaves: np.ndarray, priorities: np.ndarray) -> None:
        """Set leaf priorities, then recompute only the ancestors (one vector op per level)."""
        nodes = self.size + np.asarray(leaves, dtype=np.int64)
        if len(nodes) == 0:
            return
        self.tree[nodes] = priorities
        nodes = np.unique(nodes // 2)
        while nodes[0] >= 1:
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]
            if nodes[0] == 1:
                break
            nodes = np.unique(nodes // 2)

    def find(self, masses: np.ndarray) -> np.ndarray:
        """For each mass in [0, total), the leaf whose cumulative-priority interval holds it."""
        masses = np.array(masses, dtype=np.float64)
        nodes = np.ones(len(masses), dtype=np.int64)
        while nodes[0] < self.size:  # all nodes sit on the same level
            left = 2 * nodes
            left_mass = self.tree[left]
            go_right = masses >= left_mass
            masses = np.where(go_right, masses - left_mass, masses)
            nodes = np.where(go_right, left + 1, left)
        return nodes - self.size
