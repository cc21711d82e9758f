"""The rules engine against GNU Go as an oracle: random games played through GTP in both engines."""

from __future__ import annotations

import random
import shutil

import pytest

from rlkit.envs.go.coords import format_vertex
from rlkit.envs.go.gtp import GtpEngine
from rlkit.envs.go.gtp_client import GtpClient

GNUGO = shutil.which("gnugo") or "/usr/games/gnugo"
ORACLE = f"{GNUGO} --mode gtp --chinese-rules --positional-superko --forbid-suicide --never-resign"


def ask(engine: GtpEngine, command: str) -> tuple[bool, str]:
    """Our engine's (success, text) answer, parsed from the protocol reply."""
    reply = engine.handle(command)
    assert reply.endswith("\n\n")
    return reply[0] == "=", reply[1:].strip()


@pytest.fixture(scope="module")
def gnugo():
    with GtpClient(ORACLE) as client:
        yield client


def play_random_game(gnugo: GtpClient, size: int, rng: random.Random) -> dict[str, int]:
    """One random game in both engines, comparing stones, captures and legality after every move."""
    ours = GtpEngine(size, komi=7.5)
    for command in (f"boardsize {size}", "clear_board", "komi 7.5"):
        gnugo.send(command)
        assert ask(ours, command)[0]
    vertices = [format_vertex(a, size) for a in range(size * size)]
    stats = {"moves": 0, "illegal_tries": 0, "captures": 0}
    color, passes = "black", 0
    while passes < 2 and stats["moves"] < 3 * size * size:
        # Legality of every point for the side to move: GNU Go's list against our is_legal.
        oracle_legal = set(gnugo.send(f"all_legal {color}").split())
        our_legal = {v for v in vertices if ask(ours, f"is_legal {color} {v}") == (True, "1")}
        assert our_legal == oracle_legal, f"legal moves differ at move {stats['moves']}"
        if rng.random() < 0.2:  # try any point, legal or not, in both engines
            vertex = rng.choice(vertices)
            assert gnugo.send(f"is_legal {color} {vertex}") == ask(ours, f"is_legal {color} {vertex}")[1]
            ok, _ = ask(ours, f"play {color} {vertex}")
            assert gnugo.ask(f"play {color} {vertex}")[0] == ok
            if not ok:
                stats["illegal_tries"] += 1
                continue
        else:
            ok, vertex = ask(ours, f"genmove {color}")
            assert ok
            gnugo.send(f"play {color} {vertex}")
        passes = passes + 1 if vertex.lower() == "pass" else 0
        stats["moves"] += 1
        for side in ("black", "white"):
            assert sorted(gnugo.send(f"list_stones {side}").split()) == sorted(ask(ours, f"list_stones {side}")[1].split())
            assert gnugo.send(f"captures {side}") == ask(ours, f"captures {side}")[1]
        color = "white" if color == "black" else "black"
    stats["captures"] = int(ask(ours, "captures black")[1]) + int(ask(ours, "captures white")[1])
    return stats


@pytest.mark.slow
@pytest.mark.parametrize("size,games", [(5, 150), (9, 30), (19, 4)])
def test_random_games_agree_with_gnugo(gnugo, size, games):
    rng = random.Random(1000 + size)
    totals = {"moves": 0, "illegal_tries": 0, "captures": 0}
    for _ in range(games):
        for key, value in play_random_game(gnugo, size, rng).items():
            totals[key] += value
    # The games exercised what they claim to: many moves, refused moves and captures.
    assert totals["moves"] > games * size * size // 2
    assert totals["illegal_tries"] > 0 and totals["captures"] > 0


def test_positional_superko_agrees_with_gnugo(gnugo):
    """After a ko capture and two passes, the retake repeats the board: both engines refuse it."""
    ours = GtpEngine(5)
    moves = ["boardsize 5", "clear_board", "play b b3", "play b a2", "play b b1", "play w c3",
             "play w b2", "play w d2", "play w c1", "play b c2", "play w pass", "play b pass"]
    for command in moves:
        gnugo.send(command)
        assert ask(ours, command)[0]
    assert gnugo.send("is_legal w b2") == ask(ours, "is_legal w b2")[1] == "0"
    assert gnugo.ask("play w b2")[0] is ask(ours, "play w b2")[0] is False
