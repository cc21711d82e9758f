"""The GTP engine: every command, malformed input answered with '?', and the CLI process."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import assert_one_line_error, help_text
from rlkit.envs.go.gtp import GtpEngine
from rlkit.envs.go.gtp_client import GtpClient
from rlkit.envs.go.sgf import parse_sgf

REQUIRED = ("protocol_version name version known_command list_commands quit boardsize clear_board komi "
            "play genmove undo final_score showboard loadsgf printsgf is_legal list_stones captures").split()


def ask(engine: GtpEngine, command: str) -> tuple[bool, str]:
    reply = engine.handle(command)
    assert reply is not None and reply.endswith("\n\n") and reply[0] in "=?"
    return reply[0] == "=", reply[1:].strip()


@pytest.fixture
def engine() -> GtpEngine:
    return GtpEngine(size=9, komi=7.5)


def test_administrative_commands(engine):
    assert ask(engine, "protocol_version") == (True, "2")
    assert ask(engine, "name") == (True, "rlkit")
    assert ask(engine, "version")[0]
    assert set(REQUIRED) <= set(ask(engine, "list_commands")[1].split("\n"))
    assert all(ask(engine, f"known_command {c}") == (True, "true") for c in REQUIRED)
    assert ask(engine, "known_command frobnicate") == (True, "false")
    assert engine.handle("12 name") == "=12 rlkit\n\n"
    assert engine.handle("   # a comment only") is None and engine.handle("") is None
    assert ask(engine, "quit") == (True, "") and engine.quit


def test_play_undo_captures_list_stones_and_score(engine):
    for command in ("boardsize 5", "clear_board", "komi 0.5", "play b b1", "play w a1", "play b a2"):
        assert ask(engine, command)[0], command
    assert ask(engine, "captures black") == (True, "1")
    assert ask(engine, "captures white") == (True, "0")
    assert ask(engine, "list_stones black")[1].split() == ["A2", "B1"]
    assert ask(engine, "list_stones white") == (True, "")
    assert ask(engine, "is_legal w a1") == (True, "0")  # suicide
    assert ask(engine, "is_legal b a1") == (True, "1")
    assert ask(engine, "final_score") == (True, "B+24.5")
    assert ask(engine, "undo") == (True, "")
    assert ask(engine, "list_stones white") == (True, "A1")
    assert ask(engine, "captures black") == (True, "0")
    board = ask(engine, "showboard")[1]
    assert " 1 O X . . . 1" in board and "captured 0" in board


def test_genmove_plays_legal_moves_until_both_sides_pass(engine):
    ask(engine, "boardsize 7")
    passes, moves = 0, 0
    color = "b"
    while passes < 2:
        ok, vertex = ask(engine, f"genmove {color}")
        assert ok
        passes = passes + 1 if vertex == "pass" else 0
        moves += 1
        color = "w" if color == "b" else "b"
    assert moves > 20
    assert ask(engine, "final_score")[1][:2] in ("B+", "W+")


def test_genmove_asks_the_player_it_was_given_and_refuses_its_illegal_move():
    """`genmove=` is where an agent plugs in: it sees the game with the colour to move set."""
    seen = []

    def first_empty_point(game):
        seen.append(game.to_play)
        return 0  # A9 on 9x9 (point 0 is the top-left corner, as GTP prints the board)

    engine = GtpEngine(size=9, genmove=first_empty_point)
    assert ask(engine, "genmove w") == (True, "A9") and seen == [2]
    assert ask(engine, "genmove b") == (False, "generated move A9: illegal move")
    assert seen == [2, 1] and ask(engine, "list_stones white") == (True, "A9")


def test_genmove_never_fills_its_own_eyes(engine):
    # Black owns the board with two single eyes; every other point is full: Black must pass.
    ask(engine, "boardsize 5")
    for vertex in ("A5 B5 C5 D5 E5 A4 C4 D4 E4 A3 B3 C3 D3 E3 A2 B2 C2 D2 E2 A1 B1 C1 E1").split():
        assert ask(engine, f"play b {vertex}")[0]
    assert ask(engine, "is_legal b b4") == (True, "1")
    assert ask(engine, "genmove b") == (True, "pass")


@pytest.mark.parametrize("command,message", [
    ("frobnicate", "unknown command"),
    ("play b z9", "invalid vertex"),
    ("play b a0", "invalid vertex"),
    ("play b i5", "invalid vertex"),
    ("play b a²", "invalid vertex 'a²'"),  # a digit int() refuses
    ("play b k10", "off the"),
    ("play purple a1", "invalid color"),
    ("play b", "syntax error"),
    ("genmove", "syntax error"),
    ("genmove green", "invalid color"),
    ("boardsize 4", "unacceptable size"),
    ("boardsize 20", "unacceptable size"),
    ("boardsize nine", "unacceptable size"),
    ("komi lots", "komi not a float"),
    ("komi nan", "komi not a float"),
    ("komi 6_5", "komi not a float"),  # Python's float() reads 65
    ("undo", "cannot undo"),
    ("loadsgf /nonexistent/game.sgf", "cannot load file"),
    ("list_stones", "syntax error"),
    ("captures grey", "invalid color"),
    ("boardsize \u00b2", "unacceptable size"),  # "²" passes str.isdigit, not int()
    ("loadsgf game.sgf \u00b2", "move number is not an integer"),
    ("\u00b2 name", "unknown command"),  # not an id
    # numbers of over 4,300 digits, which int() refuses: internal errors before
    ("boardsize 1" + "0" * 4300, "unacceptable size"),
    ("play b A1" + "0" * 4300, "invalid vertex"),
    ("loadsgf /nonexistent/game.sgf 1" + "0" * 4300, "cannot load file"),
    ("printsgf /nonexistent-folder/sub/game.sgf", "cannot write /nonexistent-folder/sub/game.sgf: no such folder"),
])
def test_malformed_input_is_answered_with_a_question_mark(engine, command, message):
    ok, text = ask(engine, command)
    assert not ok and message in text
    assert ask(engine, "protocol_version") == (True, "2")  # still alive
    assert ask(engine, "play b e5")[0]


def test_a_failure_that_quotes_line_breaks_keeps_to_one_line(engine, tmp_path):
    """An SGF error quoting the file's blank line ended the reply early: the controller read the
    rest of the message as the next reply."""
    path = tmp_path / "broken.sgf"
    path.write_text("(;GM[1]SZ[9\n\n;B[cc])")
    reply = engine.handle(f"loadsgf {path}")
    assert reply.startswith("? cannot load file") and reply.endswith("\n\n") and reply.count("\n") == 2
    assert "SZ[9\\n\\n;B[cc]" in reply


def test_illegal_moves_are_refused_and_the_game_goes_on(engine):
    for command in ("boardsize 5", "play b b1", "play w a1", "play b a2"):
        ask(engine, command)
    assert ask(engine, "play w b1") == (False, "illegal move")  # occupied
    assert ask(engine, "play w a1") == (False, "illegal move")  # suicide
    assert ask(engine, "play w c1") == (True, "")


def test_loadsgf_and_printsgf(engine, tmp_path):
    for command in ("boardsize 9", "komi 6.5", "play b c3", "play w d4", "play b pass", "play w e5"):
        ask(engine, command)
    path = tmp_path / "game.sgf"
    assert ask(engine, f"printsgf {path}") == (True, "")
    printed = ask(engine, "printsgf")[1]
    assert "SZ[9]" in printed and "KM[6.5]" in printed and ";B[]" in printed
    fresh = GtpEngine(19)
    assert ask(fresh, f"loadsgf {path}") == (True, "")
    assert ask(fresh, "list_stones white")[1].split() == ["E5", "D4"]
    assert fresh.game.komi == 6.5 and fresh.game.size == 9
    assert ask(fresh, f"loadsgf {path} 3") == (True, "")  # position before move 3
    assert ask(fresh, "list_stones white") == (True, "D4")
    bad = tmp_path / "bad.sgf"
    bad.write_text("(;GM[1]SZ[9];B[cc];W[cc])")
    ok, text = ask(fresh, f"loadsgf {bad}")
    assert not ok and "bad.sgf" in text and "move 2" in text
    assert ask(fresh, "list_stones white") == (True, "D4")  # the failed load changed nothing


def test_loadsgf_with_a_move_number_stops_before_that_move(engine, tmp_path):
    """GTP: `loadsgf FILE N` sets up the position before move N, so N=2 of B C7, W D6, B E5 has C7 alone."""
    path = tmp_path / "three.sgf"
    path.write_text("(;GM[1]FF[4]SZ[9];B[cc];W[dd];B[ee])")
    assert ask(engine, f"loadsgf {path} 2") == (True, "")
    assert ask(engine, "list_stones black") == (True, "C7")
    assert ask(engine, "list_stones white") == (True, "")
    assert len(engine.game.moves) == 1 and engine.game.to_play == 2


def test_printsgf_keeps_a_loaded_games_handicap(engine, tmp_path):
    path = tmp_path / "handicap.sgf"
    path.write_text("(;GM[1]FF[4]SZ[9]KM[0.5]HA[2]AB[cc][gg]PL[W];W[ee];B[ce])")
    assert ask(engine, f"loadsgf {path}") == (True, "")
    assert ask(engine, "play w d5") == (True, "")
    printed = ask(engine, "printsgf")[1]
    assert "HA[2]" in printed and "AB[cc][gg]" in printed and "PL[W]" in printed
    assert parse_sgf(printed).info["HA"] == "2"
    assert ask(engine, "clear_board") == (True, "")  # the setup stones go, and so does the handicap
    assert "HA[" not in ask(engine, "printsgf")[1]
    odd = tmp_path / "odd.sgf"  # "²" passes str.isdigit but not int(): read as no handicap, not a crash
    odd.write_text("(;GM[1]FF[4]SZ[9]HA[²];B[cc])")
    assert ask(engine, f"loadsgf {path}") == (True, "") and ask(engine, f"loadsgf {odd}") == (True, "")
    assert "HA[" not in ask(engine, "printsgf")[1]


def test_a_controller_that_stops_reading_ends_the_session_quietly():
    """`... | rlkit gtp | head -1`: the closed pipe used to print a BrokenPipeError traceback, exit 1."""
    commands = "list_commands\n" * 3000
    result = subprocess.run(f"{sys.executable} -m rlkit.cli gtp --size 9 | head -1", shell=True, input=commands,
                            capture_output=True, text=True, timeout=60)
    assert result.stdout == "= boardsize\n" and result.stderr == ""


def test_the_cli_process_speaks_gtp_takes_its_options_and_exits_on_quit():
    replies = []
    for _ in range(2):  # the same --seed plays the same moves
        with GtpClient(f"{sys.executable} -m rlkit.cli gtp --size 9 --komi 5.5 --seed 3") as client:
            assert client.send("protocol_version") == "2"
            assert client.send("final_score") == "W+5.5"  # --komi, on the empty board
            assert client.ask("\x01garbage here") == (False, "unknown command")
            assert client.send("play black E5") == ""
            moves = [client.send(f"genmove {colour}") for colour in ("white", "black") * 5]
            assert client.ask("play black E5")[0] is False
            assert client.ask("play white K1") == (False, "invalid vertex 'K1': off the 9x9 board")  # --size
            replies.append(moves)
            client.send("quit")
            assert client.proc.wait(timeout=10) == 0
    assert replies[0] == replies[1] and len(set(replies[0])) > 5


@pytest.mark.parametrize("args,message", [
    (["--checkpoint", "model.pt"], "no Go agent exists"),
    (["--size", "25"], "--size 25"),
    (["--level", "0"], "--level 0"),
    (["--komi", "nan"], "--komi nan: must be a decimal number"),  # scored W+nan before
    (["--komi", "inf"], "--komi inf: must be a decimal number"),
])
def test_cli_rejects_bad_options_with_one_line(args, message):
    result = subprocess.run([sys.executable, "-m", "rlkit.cli", "gtp", *args], capture_output=True, text=True,
                            input="", timeout=60)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args,message", [
    (["--size", "abc"], "rlkit gtp: error: argument --size: invalid int value: 'abc'"),
    (["--komi"], "rlkit gtp: error: argument --komi: expected one argument"),
    (["--colour", "black"], "rlkit gtp: error: unrecognized arguments: --colour black"),
    (["--seed", "4294967296"], "rlkit gtp: error: --seed 4294967296: must be 0..4294967295"),  # wrapped around
    (["--seed", "18446744073709551616"], "rlkit gtp: error: --seed 18446744073709551616: must be 0..4294967295"),
    (["--seed", "-1"], "rlkit gtp: error: --seed -1: must be 0..4294967295"),
])
def test_argument_errors_are_one_line(capsys, args, message):
    assert_one_line_error(capsys, ["gtp", *args], message)


def test_help_says_checkpoint_is_not_available_yet(capsys):
    text = help_text(capsys, "gtp")
    assert "--checkpoint PATH reserved for the AlphaZero Go agent, which rlkit does not have yet" in text
    assert "--level N reserved with --checkpoint" in text


@pytest.mark.parametrize("redirect, commands", [("<&-", ""), (">&-", "name\nquit\n"), ("2>&-", "name\nquit\n")])
def test_a_standard_stream_the_shell_closed_is_taken_as_dev_null(redirect, commands):
    """`rlkit gtp <&-` or `>&-` was a traceback (the stream was None); with no input it ends at once."""
    result = subprocess.run(f"exec {sys.executable} -P -m rlkit.cli gtp {redirect}", shell=True, input=commands,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == ("= rlkit\n\n=\n\n" if redirect == "2>&-" else "")


def test_a_numba_cache_that_cannot_be_written_anywhere_is_one_line():
    """A read-only install (its __pycache__ not writable) run with an unwritable home: numba's
    RuntimeError 'cannot cache function ...: no locator available' was a traceback."""
    script = ("import sys\n"
              "from numba.core import caching\n"
              "def unwritable(self):\n"
              "    raise PermissionError('read-only')\n"
              "for locator in caching.CacheImpl._locator_classes:\n"
              "    locator.ensure_cache_path = unwritable\n"
              "from rlkit.cli import main\n"
              "sys.argv = ['rlkit', 'gtp']\n"
              "sys.exit(main())\n")
    result = subprocess.run([sys.executable, "-P", "-c", script], input="quit\n", capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert re.fullmatch(r"rlkit gtp: error: cannot cache function '\w+': no locator available for file '.*\.py' "
                        r"\(its __pycache__ folder and ~/\.cache are not writable\); set NUMBA_CACHE_DIR to a folder "
                        r"you can write\n", result.stderr)
