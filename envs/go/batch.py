"""Many Go games stepped together: one compiled call plays a move in every game of the batch.

AlphaZero self-play runs hundreds of games side by side; keeping them in shared arrays (see
engine.py) means a batch step costs one Python call, not one per game.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import engine as E
from .engine import DONE, HPOS, MOVES, TO_PLAY, is_legal, legal_mask, play, reset
from .playout import random_action
from .scoring import area_difference


@njit(cache=True)
def play_all(
        pts: np.ndarray, meta: np.ndarray, hz: np.ndarray, hist: np.ndarray, nbr: np.ndarray, actions: np.ndarray,
) -> int:
    """Every game's player to move plays actions[g]; -1 if all were legal, else the first illegal
    game's index (and then no game has moved)."""
    p_count = pts.shape[2]
    for g in range(pts.shape[0]):
        a = actions[g]
        if a < 0 or a > p_count or (a < p_count and not is_legal(pts, hz, g, nbr, a, meta[g, TO_PLAY])):
            return g
    for g in range(pts.shape[0]):
        play(pts, meta, hz, hist, g, nbr, actions[g], meta[g, TO_PLAY])
    return -1


@njit(cache=True)
def legal_masks(pts: np.ndarray, meta: np.ndarray, hz: np.ndarray, nbr: np.ndarray, out: np.ndarray) -> None:
    """out[g] = legal actions of game g's player to move (B, P+1)."""
    for g in range(pts.shape[0]):
        legal_mask(pts, meta, hz, g, nbr, out[g])


@njit(cache=True)
def random_actions(
        pts: np.ndarray, meta: np.ndarray, hz: np.ndarray, nbr: np.ndarray,
        allow_pass: bool, avoid_eyes: bool, out: np.ndarray,
) -> None:
    """out[g] = a uniformly random legal action in game g (see playout.random_action)."""
    for g in range(pts.shape[0]):
        out[g] = random_action(pts, meta, hz, g, nbr, allow_pass, avoid_eyes)


@njit(cache=True)
def step_random(
        pts: np.ndarray, meta: np.ndarray, hz: np.ndarray, hist: np.ndarray,
        nbr: np.ndarray, allow_pass: bool, avoid_eyes: bool, max_moves: int,
) -> int:
    """One random legal move in every game, restarting games that have ended; returns moves played."""
    for g in range(pts.shape[0]):
        if meta[g, DONE]:
            reset(pts, meta, hz, hist, g, max_moves)
        a = random_action(pts, meta, hz, g, nbr, allow_pass, avoid_eyes)
        play(pts, meta, hz, hist, g, nbr, a, meta[g, TO_PLAY])
    return pts.shape[0]


@njit(cache=True)
def area_differences(pts: np.ndarray, nbr: np.ndarray, out: np.ndarray) -> None:
    """out[g] = Tromp-Taylor black area minus white area of game g."""
    for g in range(pts.shape[0]):
        out[g] = area_difference(pts, g, nbr)


@njit(cache=True)
def observe(pts: np.ndarray, meta: np.ndarray, hist: np.ndarray, out: np.ndarray) -> None:
    """Observation planes (B, 2H+1, P) from each game's player-to-move view.

    Plane 2k: the mover's stones k moves ago (k = 0 now); plane 2k+1: the opponent's stones k
    moves ago (zeros before the game began); plane 2H: ones if Black is to move, else zeros.
    """
    h = hist.shape[1]
    for g in range(pts.shape[0]):
        me = meta[g, TO_PLAY]
        for k in range(h):
            slot = (meta[g, HPOS] - k) % h
            for p in range(pts.shape[2]):
                c = hist[g, slot, p]
                out[g, 2 * k, p] = 1.0 if c == me else 0.0
                out[g, 2 * k + 1, p] = 1.0 if c == 3 - me else 0.0
        out[g, 2 * h, :] = 1.0 if me == 1 else 0.0


class GoBatch:
    """B games on one board size: batched moves, legal masks, scores, observations and resets."""

    def __init__(self, num_games: int, size: int, komi: float = 7.5, history: int = 8, max_moves: int | None = None):
        self.num_games, self.size, self.komi, self.history = num_games, size, float(komi), history
        self.max_moves = max_moves if max_moves is not None else 2 * size * size
        self.nbr = E.geometry(size)
        self.pts, self.meta, self.hz, self.hist = E.new_arrays(num_games, size, self.max_moves, history)

    def reset(self, games: np.ndarray | None = None) -> None:
        """Restart the given games (indices or a bool mask; default all) from the empty board."""
        if games is None:
            index = np.arange(self.num_games)
        else:
            games = np.asarray(games)
            if games.dtype == bool:
                if games.shape != (self.num_games,):
                    raise ValueError(f"a mask of {self.num_games} games is needed, got shape {games.shape}")
                index = np.flatnonzero(games)
            else:
                index = games.reshape(-1)
                if index.size and (not np.issubdtype(index.dtype, np.integer)
                                   or index.min() < 0 or index.max() >= self.num_games):
                    # the compiled reset does not check bounds: a wrong index would write past the arrays
                    raise ValueError(f"game indices must be integers in 0..{self.num_games - 1}, got {games.tolist()}")
        for g in index:
            reset(self.pts, self.meta, self.hz, self.hist, int(g), self.max_moves)

    def play(self, actions: np.ndarray) -> None:
        """Each game's player to move plays its action (N*N = pass); ValueError, and no move, if any is illegal."""
        actions = np.ascontiguousarray(actions, dtype=np.int64)
        if actions.shape != (self.num_games,):
            raise ValueError(f"expected {self.num_games} actions, got shape {actions.shape}")
        over = np.flatnonzero(self.meta[:, DONE])
        if over.size:
            raise ValueError(f"game {over[0]} is over: reset it before playing on")
        bad = play_all(self.pts, self.meta, self.hz, self.hist, self.nbr, actions)
        if bad >= 0:
            raise ValueError(f"game {bad}: action {actions[bad]} is illegal")

    def legal_mask(self) -> np.ndarray:
        """(B, N*N+1) bool: legal actions of each game's player to move; pass is always legal."""
        out = np.empty((self.num_games, self.size * self.size + 1), np.bool_)
        legal_masks(self.pts, self.meta, self.hz, self.nbr, out)
        return out

    def random_actions(self, allow_pass: bool = False, avoid_eyes: bool = True) -> np.ndarray:
        """A uniformly random legal action per game (rollouts, baselines)."""
        out = np.empty(self.num_games, np.int64)
        random_actions(self.pts, self.meta, self.hz, self.nbr, allow_pass, avoid_eyes, out)
        return out

    def to_play(self) -> np.ndarray:
        """(B,) colour to move: 1 black, 2 white."""
        return self.meta[:, TO_PLAY].copy()

    def done(self) -> np.ndarray:
        """(B,) bool: game over (two passes in a row, or max_moves moves played)."""
        return self.meta[:, DONE].astype(bool)

    def moves(self) -> np.ndarray:
        """(B,) moves played so far, passes included."""
        return self.meta[:, MOVES].copy()

    def scores(self) -> np.ndarray:
        """(B,) Tromp-Taylor score, black minus white minus komi."""
        out = np.empty(self.num_games, np.int64)
        area_differences(self.pts, self.nbr, out)
        return out - self.komi

    def boards(self) -> np.ndarray:
        """(B, N, N) colours, row 0 the top line."""
        return self.pts[:, E.COLOR].reshape(self.num_games, self.size, self.size).astype(np.int8)

    def observe(self) -> np.ndarray:
        """(B, 2H+1, N, N) float32 planes from each player-to-move's view (see `observe`)."""
        out = np.empty((self.num_games, 2 * self.history + 1, self.size * self.size), np.float32)
        observe(self.pts, self.meta, self.hist, out)
        return out.reshape(self.num_games, 2 * self.history + 1, self.size, self.size)
