"""Tromp-Taylor area scoring: a point counts for a colour if it holds that colour's stone or is an
empty point from which only that colour's stones are reachable through empty points."""

from __future__ import annotations

import numpy as np
from numba import njit

from .engine import COLOR


@njit(cache=True)
def area_difference(pts: np.ndarray, g: int, nbr: np.ndarray) -> int:
    """Tromp-Taylor area: black points minus white points (stones plus empty regions reaching one colour)."""
    p_count = pts.shape[2]
    seen = np.zeros(p_count, np.bool_)
    stack = np.empty(p_count, np.int32)
    diff = 0
    for p in range(p_count):
        c = pts[g, COLOR, p]
        if c == 1:
            diff += 1
        elif c == 2:
            diff -= 1
        elif not seen[p]:
            seen[p] = True
            stack[0] = p
            top = 1
            size = 0
            reach = 0
            while top > 0:
                top -= 1
                s = stack[top]
                size += 1
                for j in range(4):
                    q = nbr[s, j]
                    if q < 0:
                        break
                    cq = pts[g, COLOR, q]
                    if cq == 0:
                        if not seen[q]:
                            seen[q] = True
                            stack[top] = q
                            top += 1
                    else:
                        reach |= cq
            if reach == 1:
                diff += size
            elif reach == 2:
                diff -= size
    return diff
