"""Random legal moves (for genmove without an agent, rollouts and the benchmark), compiled by numba."""

from __future__ import annotations

import numpy as np
from numba import njit

from .engine import COLOR, DONE, EMPTY, EPOS, N_EMPTY, TO_PLAY, is_legal, play


@njit(cache=True)
def is_eye(pts: np.ndarray, g: int, nbr: np.ndarray, p: int, c: int) -> bool:
    """Whether empty p is a true one-point eye of colour c: all neighbours c, and no opponent stone
    on a diagonal (one is allowed in the centre of the board)."""
    n_orth = 0
    for j in range(4):
        q = nbr[p, j]
        if q < 0:
            break
        if pts[g, COLOR, q] != c:
            return False
        n_orth += 1
    bad = 0
    for j in range(4):
        d = nbr[p, 4 + j]
        if d < 0:
            break
        if pts[g, COLOR, d] == 3 - c:
            bad += 1
    return bad == 0 or (n_orth == 4 and bad == 1)


@njit(cache=True)
def random_action(
        pts: np.ndarray, meta: np.ndarray, hz: np.ndarray, g: int,
        nbr: np.ndarray, allow_pass: bool, avoid_eyes: bool,
) -> int:
    """A uniformly random legal action for the player to move.

    allow_pass: pass is one of the candidates (uniform over all legal actions), else pass only
    when nothing else is legal. avoid_eyes: never fill the mover's own true one-point eyes.
    """
    c = meta[g, TO_PLAY]
    p_count = pts.shape[2]
    n = meta[g, N_EMPTY]
    if allow_pass:
        while True:
            r = np.random.randint(0, n + 1)
            if r == n:
                return p_count
            p = pts[g, EMPTY, r]
            if (not avoid_eyes or not is_eye(pts, g, nbr, p, c)) and is_legal(
                pts, hz, g, nbr, p, c
            ):
                return p
    for i in range(n):
        j = i + np.random.randint(0, n - i)
        p = pts[g, EMPTY, j]
        pi = pts[g, EMPTY, i]
        pts[g, EMPTY, i] = p
        pts[g, EPOS, p] = i
        pts[g, EMPTY, j] = pi
        pts[g, EPOS, pi] = j
        if (not avoid_eyes or not is_eye(pts, g, nbr, p, c)) and is_legal(
            pts, hz, g, nbr, p, c
        ):
            return p
    return p_count


@njit(cache=True)
def seed(s: int) -> None:
    """Seed the compiled code's random generator (random_action)."""
    np.random.seed(s)


@njit(cache=True)
def random_play(
        pts: np.ndarray, meta: np.ndarray, hz: np.ndarray, hist: np.ndarray,
        g: int, nbr: np.ndarray, allow_pass: bool, avoid_eyes: bool,
) -> int:
    """Pick a random_action for game g's player to move and play it, in one call; returns the action."""
    a = random_action(pts, meta, hz, g, nbr, allow_pass, avoid_eyes)
    play(pts, meta, hz, hist, g, nbr, a, meta[g, TO_PLAY])
    return a


@njit(cache=True)
def playout(
        pts: np.ndarray, meta: np.ndarray, hz: np.ndarray, hist: np.ndarray,
        g: int, nbr: np.ndarray, allow_pass: bool, avoid_eyes: bool,
) -> int:
    """Play random_action moves in game g until it ends (two passes or the move cap); returns moves played."""
    n = 0
    while meta[g, DONE] == 0:
        a = random_action(pts, meta, hz, g, nbr, allow_pass, avoid_eyes)
        play(pts, meta, hz, hist, g, nbr, a, meta[g, TO_PLAY])
        n += 1
    return n
