"""Benchmark: uniformly random legal Go on 9x9 and 19x19, moves per second on one core.

Every engine plays the same policy (uniform over all legal actions, pass included) with games
capped at 2*N*N moves (OpenSpiel's own cap), measured side by side in one run. The work to draw a
move differs: the anchors list every legal action each move (their Python APIs offer no other
way to draw a uniform legal move), while rlkit's `random_action` draws an empty point or pass at
random and checks only that one, redrawing if it is illegal (same distribution, less work).
`ours-list` does the anchors' work with rlkit's engine, for an equal-work comparison:

  pettingzoo     pettingzoo.classic.go_v5, one env.step per move (anchor)
  openspiel      pyspiel "go" through its Python binding: legal_actions(), a uniform pick,
                 apply_action, per move from Python (anchor)
  ours-list      rlkit, the same three steps per move from Python: legal_mask, a uniform pick, play
  ours-python    rlkit, two compiled calls per move from Python: pick a random action, play it
  ours-move      rlkit, one compiled call per move from Python (pick and play together)
  ours-game      rlkit, one compiled call plays a whole game
  ours-batch     rlkit GoBatch of --batch games, one compiled call moves every game once

rlkit forbids any repeated position (positional superko, a hash lookup per candidate move);
OpenSpiel and PettingZoo forbid only the immediate ko recapture.

Usage: .venv/bin/python bench/go_engine.py [--seconds 3] [--batch 64] [--sizes 9 19]
"""

from __future__ import annotations

import argparse
import os
import random
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from common import machine  # noqa: E402
from rlkit.envs.go import engine as E  # noqa: E402
from rlkit.envs.go.batch import GoBatch, step_random  # noqa: E402
from rlkit.envs.go.game import Game  # noqa: E402
from rlkit.envs.go.playout import playout, random_action, random_play, seed  # noqa: E402


def timed(run_some, seconds: float) -> float:
    """Moves per second of `run_some() -> moves`, called until `seconds` have passed."""
    run_some()  # warm up (compilation, caches)
    moves, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        moves += run_some()
    return moves / (time.perf_counter() - start)


def pettingzoo(n: int, seconds: float) -> float:
    try:
        import pygame  # noqa: F401 - PettingZoo's Go imports it at module level, for rendering only
    except ImportError:
        import sys
        import types

        sys.modules["pygame"] = types.ModuleType("pygame")  # never rendered here: a stub is enough
    from pettingzoo.classic import go_v5

    env = go_v5.env(board_size=n, komi=7.5)
    rng = np.random.default_rng(0)

    def game() -> int:
        env.reset(seed=int(rng.integers(1 << 30)))
        moves = 0
        while moves < 2 * n * n:
            obs, _, term, trunc, _ = env.last()
            if term or trunc:
                break
            env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
            moves += 1
        return moves

    return timed(game, seconds)


def openspiel(n: int, seconds: float) -> float:
    import pyspiel

    spiel = pyspiel.load_game("go", {"board_size": n, "komi": 7.5})
    rng = random.Random(0)

    def game() -> int:
        state = spiel.new_initial_state()
        moves = 0
        while not state.is_terminal():
            state.apply_action(rng.choice(state.legal_actions()))
            moves += 1
        return moves

    return timed(game, seconds)


def ours_legal_list(n: int, seconds: float) -> float:
    """Our engine driven as OpenSpiel is driven: every legal action listed, a uniform pick, play."""
    game = Game(n, komi=7.5, max_moves=2 * n * n)
    pts, meta, hz, hist, nbr = game.pts, game.meta, game.hz, game.hist, game.nbr
    mask = np.empty(n * n + 1, np.bool_)
    rng = random.Random(0)

    def one() -> int:
        E.reset(pts, meta, hz, hist, 0, 2 * n * n)
        moves = 0
        while not meta[0, E.DONE]:
            E.legal_mask(pts, meta, hz, 0, nbr, mask)
            E.play(pts, meta, hz, hist, 0, nbr, rng.choice(np.flatnonzero(mask).tolist()), meta[0, E.TO_PLAY])
            moves += 1
        return moves

    return timed(one, seconds)


def ours_per_move(n: int, seconds: float, one_call: bool) -> float:
    """Our engine driven from Python one move at a time: pick then play (two calls), or one call."""
    game = Game(n, komi=7.5, max_moves=2 * n * n)
    pts, meta, hz, hist, nbr = game.pts, game.meta, game.hz, game.hist, game.nbr

    def one() -> int:
        E.reset(pts, meta, hz, hist, 0, 2 * n * n)
        moves = 0
        while not meta[0, E.DONE]:
            if one_call:
                random_play(pts, meta, hz, hist, 0, nbr, True, False)
            else:
                a = random_action(pts, meta, hz, 0, nbr, True, False)
                E.play(pts, meta, hz, hist, 0, nbr, a, meta[0, E.TO_PLAY])
            moves += 1
        return moves

    return timed(one, seconds)


def ours_game(n: int, seconds: float) -> float:
    g = GoBatch(1, n, history=0, max_moves=2 * n * n)

    def one() -> int:
        E.reset(g.pts, g.meta, g.hz, g.hist, 0, g.max_moves)
        return playout(g.pts, g.meta, g.hz, g.hist, 0, g.nbr, True, False)

    return timed(one, seconds)


def ours_batch(n: int, seconds: float, batch: int) -> float:
    g = GoBatch(batch, n, history=0, max_moves=2 * n * n)

    def steps() -> int:
        moves = 0
        for _ in range(16):
            moves += step_random(g.pts, g.meta, g.hz, g.hist, g.nbr, True, False, g.max_moves)
        return moves

    return timed(steps, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per engine and size")
    parser.add_argument("--batch", type=int, default=64, help="games per call for ours-batch")
    parser.add_argument("--sizes", type=int, nargs="+", default=[9, 19])
    args = parser.parse_args()
    seed(0)
    print(f"{machine()}; one core used")
    print(f"{'size':>4}  {'engine':<12} {'moves/s':>12} {'vs pettingzoo':>14} {'vs openspiel':>13}")
    for n in args.sizes:
        rates = {
            "pettingzoo": pettingzoo(n, args.seconds),
            "openspiel": openspiel(n, args.seconds),
            "ours-list": ours_legal_list(n, args.seconds),
            "ours-python": ours_per_move(n, args.seconds, one_call=False),
            "ours-move": ours_per_move(n, args.seconds, one_call=True),
            "ours-game": ours_game(n, args.seconds),
            "ours-batch": ours_batch(n, args.seconds, args.batch),
        }
        for name, rate in rates.items():
            print(f"{n:>4}  {name:<12} {rate:>12,.0f} {rate / rates['pettingzoo']:>13.1f}x "
                  f"{rate / rates['openspiel']:>12.2f}x", flush=True)


if __name__ == "__main__":
    main()
