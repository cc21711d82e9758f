"""One Go game with a record: colour-explicit moves, setup stones, undo by replay, cheap copy.

This is what GTP, SGF and matches use; self-play batches use `rlkit.envs.go.batch` directly.
"""

from __future__ import annotations

import math
import re

import numpy as np

from . import engine as E
from .playout import random_action
from .scoring import area_difference


KOMI = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")


def parse_komi(text: str) -> float:
    """A komi as GTP and SGF write one (6.5, -0.5, 7); ValueError for anything else (nan, inf, 6_5)."""
    value = float(text) if KOMI.fullmatch(text.strip()) else math.nan
    if not math.isfinite(value):
        raise ValueError(f"komi '{text}' is not a decimal number")
    return value


def format_komi(value: float) -> str:
    """A komi (or score) as parse_komi reads it back, every digit kept: 7, 6.5, 1234567.5 (never 1.2e+06)."""
    return np.format_float_positional(value, trim="-")


def check_color(color: int) -> int:
    """`color` if it is 1 (black) or 2 (white), else ValueError: the compiled engine indexes tables by it."""
    if color not in (1, 2):
        raise ValueError(f"colour {color!r} is not 1 (black) or 2 (white)")
    return color


class IllegalMove(ValueError):
    """A move the rules forbid (occupied point, suicide, or a repeated position)."""


class Game:
    """A single game on an n x n board under positional superko, no suicide, Tromp-Taylor scoring."""

    def __init__(self, size: int = 19, komi: float = 7.5, max_moves: int | None = None):
        if max_moves is not None and max_moves < 1:
            raise ValueError(f"max_moves {max_moves} must be at least 1 (it is the capacity the record doubles from)")
        self.size = size
        self.komi = float(komi)
        # moves the arrays (the superko table) hold; a longer game grows them, so no length is refused
        self.max_moves = max_moves if max_moves is not None else 10 * size * size
        self.nbr = E.geometry(size)
        self.pts, self.meta, self.hz, self.hist = E.new_arrays(1, size, self.max_moves, 0)
        self.setup: list[tuple[int, int]] = []  # (colour, point) placed before move 1
        self.moves: list[tuple[int, int]] = []  # (colour, action), action P = pass
        self.first_to_play = 1  # who moves first after the setup (SGF PL)

    @property
    def pass_action(self) -> int:
        """The action index of pass (N*N)."""
        return self.size * self.size

    @property
    def to_play(self) -> int:
        """Colour to move next: 1 black, 2 white."""
        return int(self.meta[0, E.TO_PLAY])

    @to_play.setter
    def to_play(self, color: int) -> None:
        self.meta[0, E.TO_PLAY] = check_color(color)

    @property
    def over(self) -> bool:
        """Whether the last two moves were passes."""
        return int(self.meta[0, E.PASSES]) >= 2

    def board(self) -> np.ndarray:
        """Colours (n, n) int8, row 0 the top line."""
        return self.pts[0, E.COLOR].reshape(self.size, self.size).astype(np.int8)

    def is_legal(self, action: int, color: int | None = None) -> bool:
        """Whether `color` (default: the player to move) may play `action` now; ValueError for a
        colour other than 1 or 2."""
        color = self.to_play if color is None else check_color(color)
        if action == self.pass_action:
            return True
        if not 0 <= action < self.pass_action:
            return False
        return bool(E.is_legal(self.pts, self.hz, 0, self.nbr, action, color))

    def play(self, action: int, color: int | None = None) -> int:
        """Play a move (pass = N*N); returns stones captured; IllegalMove if the rules forbid it."""
        color = self.to_play if color is None else color
        if not self.is_legal(action, color):
            raise IllegalMove("illegal move")
        if len(self.moves) >= self.max_moves:
            self._grow()
        self.moves.append((color, action))
        return int(E.play(self.pts, self.meta, self.hz, self.hist, 0, self.nbr, action, color))

    def place_setup(self, stones: list[tuple[int, int]]) -> None:
        """Start the game from setup stones (SGF AB/AW); ValueError if a stone lands on an occupied
        point, has no liberty or would capture, and then the board keeps only the setup it had before."""
        if self.moves:
            raise ValueError("setup stones after moves")
        for color, p in stones:
            check_color(color)
            if not 0 <= p < self.pass_action:  # the compiled engine does not check bounds
                raise ValueError(f"setup stone at {p} is off the board")
        for color, p in stones:
            if not E.is_legal(self.pts, self.hz, 0, self.nbr, p, color) or (
                E.place(self.pts, self.meta, self.hz, 0, self.nbr, p, color) > 0
            ):
                self.clear(keep_setup=True)  # take this call's stones off again (and put back any captured)
                raise ValueError(f"setup stone at {p} is on an occupied point, has no liberty or would capture")
        self.setup.extend(stones)
        E.forget_history(self.pts, self.meta, self.hz, self.hist, 0)

    def undo(self) -> None:
        """Take back the last move (replays the record: exact, and cheap at game lengths)."""
        if not self.moves:
            raise ValueError("no move to undo")
        moves = self.moves[:-1]
        self.clear(keep_setup=True)
        for color, action in moves:
            self.play(action, color)

    def _grow(self) -> None:
        """Double the move capacity: new arrays (a superko table twice the size), the record replayed."""
        moves = self.moves
        self.max_moves *= 2
        self.pts, self.meta, self.hz, self.hist = E.new_arrays(1, self.size, self.max_moves, 0)
        self.clear(keep_setup=True)
        for color, action in moves:
            self.play(action, color)

    def clear(self, keep_setup: bool = False) -> None:
        """Empty board (or just the setup stones), Black to move, no moves."""
        setup = self.setup if keep_setup else []
        E.reset(self.pts, self.meta, self.hz, self.hist, 0, self.max_moves)
        self.setup, self.moves = [], []
        if setup:
            self.place_setup(setup)
        if keep_setup:
            self.to_play = self.first_to_play
        else:
            self.first_to_play = 1

    def copy(self) -> Game:
        """An independent copy (array copies, no replay): for search."""
        other = Game.__new__(Game)
        other.__dict__.update(self.__dict__)
        other.pts, other.meta, other.hz, other.hist = (a.copy() for a in (self.pts, self.meta, self.hz, self.hist))
        other.setup, other.moves = list(self.setup), list(self.moves)
        return other

    def stones(self, color: int) -> list[int]:
        """Points holding a stone of `color`."""
        return np.flatnonzero(self.pts[0, E.COLOR] == color).tolist()

    def captures(self, color: int) -> int:
        """Stones captured so far by `color`."""
        return int(self.meta[0, 3 + color])

    def score(self) -> float:
        """Tromp-Taylor area score, black minus white minus komi."""
        return float(area_difference(self.pts, 0, self.nbr)) - self.komi

    def result(self) -> str:
        """Result as SGF/GTP writes it: 'B+3.5', 'W+0.5' or '0' for a draw."""
        s = self.score()
        return "0" if s == 0 else f"{'B' if s > 0 else 'W'}+{format_komi(abs(s))}"

    def random_action(self, avoid_eyes: bool = True) -> int:
        """A uniformly random legal move for the player to move, never filling its own eyes; pass if none."""
        return int(random_action(self.pts, self.meta, self.hz, 0, self.nbr, False, avoid_eyes))
