"""Malformed input never escapes as anything but the documented failure: seeded mutations of SGF
records and random GTP command lines (a short form of the 1.5M-case fuzz run in the thirteenth
session's note, which found the 4,300-digit and line-break cases tested in test_go_sgf/test_go_gtp)."""

from __future__ import annotations

import random
import re

from rlkit.envs.go.game import Game
from rlkit.envs.go.gtp import GtpEngine
from rlkit.envs.go.playout import seed
from rlkit.envs.go.sgf import SgfError, parse_sgf, replay, to_sgf

PIECES = ["(", ")", ";", "[", "]", "\\", "\n", "\r\n", ":", "AB[", "AW[", "AE[", "SZ[", "KM[", "HA[", "PL[",
          "B[", "W[", "tt", "zz", "aa", "²", "1" * 4400, "nan", "\x00", "\ufeff", "é", "(;W[bb])", "AB[aa:ss]",
          "SZ[25]", "C[x]"]


def mutate(text: str, rng: random.Random) -> str:
    """A few random insertions, deletions and truncations."""
    chars = list(text)
    for _ in range(rng.randint(1, 5)):
        i = rng.randrange(len(chars) + 1)
        kind = rng.randrange(4)
        if kind == 0:
            chars[i:i] = rng.choice(PIECES)
        elif kind == 1:
            del chars[i:i + rng.randint(1, 6)]
        elif kind == 2:
            chars = chars[:i]
        else:
            chars[i:i] = chr(rng.randrange(0x300))
    return "".join(chars)


def test_mutated_sgf_records_are_read_or_refused_with_a_one_line_sgf_error():
    rng = random.Random(1)
    seed(1)
    game = Game(9, komi=6.5)
    for _ in range(40):
        game.play(game.random_action())
    records = [to_sgf(game, black="b", white="w", comment="c]\\", handicap=2),
               "(;GM[1]SZ[5]AB[aa:bb]AW[ee]PL[W];W[dd];B[](;W[cc])(;W[ca]))"]
    read = refused = 0
    for _ in range(3000):
        text = mutate(rng.choice(records), rng)
        try:
            replay(parse_sgf(text))
            read += 1
        except SgfError as error:
            assert str(error).isprintable(), text
            refused += 1
    assert read > 100 and refused > 2000  # both outcomes exercised


def test_random_gtp_lines_get_well_formed_replies_and_no_internal_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # printsgf writes the files its random arguments name
    rng = random.Random(2)
    seed(2)
    engine = GtpEngine(9)
    good, broken = tmp_path / "good.sgf", tmp_path / "broken.sgf"
    good.write_text("(;GM[1]SZ[5]HA[2]AB[aa][cc]PL[W];W[dd];B[])")
    broken.write_text("(;GM[1]SZ[9\n\n;B[cc])")
    words = ["b", "w", "black", "A1", "E5", "J9", "T19", "I5", "pass", "5", "9", "19", "0", "-1", "²", "1" * 4400,
             "x", "6.5", "nan", str(good), str(broken), str(tmp_path / "out.sgf"), "/no/such/dir/x.sgf", "\x01", "#"]
    names = sorted(engine.commands) + ["boardsize"] * 3 + ["play"] * 10 + ["undo"] * 3 + ["nonsense"]
    reply_form = re.compile(r"[=?]\d* ?[^\n]*(\n[^\n]+)*\n\n", re.DOTALL)
    failures = 0
    for _ in range(5000):
        parts = [rng.choice(names)] + [rng.choice(words) for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.1:
            parts.insert(0, str(rng.randint(0, 10**25)))  # a command id
        line = " ".join(parts)
        reply = engine.handle(line)
        assert reply is not None and reply_form.fullmatch(reply), (line, reply)
        assert "internal error" not in reply, (line, reply)
        if reply.startswith("?"):
            assert reply.count("\n") == 2, (line, reply)  # a failure is one line
            failures += 1
        engine.quit = False
    assert 500 < failures < 4500
