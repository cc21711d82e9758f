"""`rlkit match`: Wilson intervals, alternating colours, SGF records, forfeits, reply timeouts and option errors."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import assert_one_line_error, help_text
from rlkit.envs.go.game import Game
from rlkit.envs.go.coords import format_vertex, parse_vertex
from rlkit.envs.go.gtp_client import GtpClient, GtpError
from rlkit.envs.go.match import main, play_game, record_name, wilson_interval
from rlkit.envs.go.sgf import read_sgf, replay
from rlkit.errors import Stopped, UserError

GNUGO = shutil.which("gnugo") or "/usr/games/gnugo"
OURS = f"{sys.executable} -m rlkit.cli gtp"


def test_wilson_interval_known_values():
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(10, 10)[1] == 1.0


def test_match_against_gnugo_alternates_colours_and_records_every_game(tmp_path, capsys):
    # the referee's ko rule; never resigning, so every game is played out and scored
    gnugo = f"{GNUGO} --mode gtp --level 1 --positional-superko --never-resign"
    assert main(["--black", f"{OURS} --seed 5", "--white", gnugo, "--games", "2",
                 "--size", "5", "--komi", "0.5", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    records = [read_sgf(tmp_path / f"game-00{i}.sgf") for i in (1, 2)]
    assert records[0].info["PB"].startswith("rlkit") and records[0].info["PW"].startswith("GNU Go")
    assert records[1].info["PB"].startswith("GNU Go") and records[1].info["PW"].startswith("rlkit")
    for rec in records:
        game = replay(rec)
        assert rec.komi == 0.5 and rec.size == 5
        assert game.over and rec.info["RE"] == game.result()  # two passes, scored by our Tromp-Taylor
    # the summary counts engine A's wins from the records: Black in game 1, White in game 2 (komi 0.5: no jigo)
    wins = (records[0].info["RE"].startswith("B+")) + (records[1].info["RE"].startswith("W+"))
    low, high = wilson_interval(wins, 2)
    assert f"scored {wins} of 2 against" in out and f"95% Wilson interval [{low:.3f}, {high:.3f}]" in out, out


FAKE = textwrap.dedent("""
    import sys
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        reply = {"name": "always-a1", "genmove": "A1", "quit": ""}.get(cmd[0], "")
        sys.stdout.write(f"= {reply}\\n\\n")
        sys.stdout.flush()
        if cmd[0] == "quit":
            break
""")


def test_an_illegal_move_forfeits_the_game_and_engine_a_scores_in_either_colour(tmp_path, capsys):
    fake = tmp_path / "fake.py"
    fake.write_text(FAKE)
    assert main(["--black", f"{OURS} --seed 1", "--white", f"{sys.executable} {fake}", "--games", "2",
                 "--size", "5", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    # Our random engine never repeats the occupied A1 point, the fake one does at its second move.
    assert "B+F" in out and "white played illegal A1" in out
    assert read_sgf(tmp_path / "out" / "game-001.sgf").info["RE"] == "B+F"
    # colours alternate: in game 2 the fake is Black and forfeits again, a win for A as White
    assert read_sgf(tmp_path / "out" / "game-002.sgf").info["RE"] == "W+F"
    assert "scored 2 of 2 against engine B" in out


# Answers setup commands, writes its pid to the file named on its command line, then never answers genmove.
STALLS_ON_GENMOVE = textwrap.dedent("""
    import os, sys, time
    open(sys.argv[1], "w").write(str(os.getpid()))
    for line in sys.stdin:
        cmd = line.split()
        if cmd and cmd[0] == "genmove":
            time.sleep(600)
        sys.stdout.write("= stalls\\n\\n" if cmd and cmd[0] == "name" else "=\\n\\n")
        sys.stdout.flush()
""")


def _reaped(pid: int) -> bool:
    """True once the process is gone and waited for: a zombie still answers signal 0."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_an_engine_that_never_answers_is_killed_and_stops_the_match(tmp_path):
    stalls, fake, pid_file = tmp_path / "stalls.py", tmp_path / "fake.py", tmp_path / "pid"
    stalls.write_text(STALLS_ON_GENMOVE)
    fake.write_text(FAKE)
    with pytest.raises(Stopped, match=r"game 1: .*stalls.py.* did not answer 'genmove black' within 2 s"):
        main(["--black", f"{sys.executable} {stalls} {pid_file}", "--white", f"{sys.executable} {fake}",
              "--games", "1", "--size", "5", "--timeout", "2", "--out", str(tmp_path / "out")])
    assert _reaped(int(pid_file.read_text()))
    assert not list((tmp_path / "out").glob("*.sgf"))  # a game with no move leaves no record


# Plays the moves given as arguments, one per genmove, then exits (a crash mid-game).
PLAYS_THEN_EXITS = textwrap.dedent("""
    import sys
    moves = sys.argv[1:]
    for line in sys.stdin:
        cmd = line.split()
        if cmd and cmd[0] == "genmove":
            if not moves:
                sys.exit(3)
            reply = moves.pop(0)
        else:
            reply = "plays-then-exits" if cmd and cmd[0] == "name" else ""
        sys.stdout.write(f"= {reply}\\n\\n")
        sys.stdout.flush()
""")


def test_an_engine_that_dies_mid_game_stops_the_match_with_status_1_and_the_game_is_kept(tmp_path):
    """Not bad input (exit 2) but a failure once running: one line, exit 1, and the moves played
    so far are kept as SGF with no result and the failure as its comment."""
    script, out = tmp_path / "plays.py", tmp_path / "out"
    script.write_text(PLAYS_THEN_EXITS)
    argv = ["match", "--black", f"{sys.executable} {script} E5 D5", "--white", f"{sys.executable} {script} A1 B1 C1",
            "--games", "2", "--size", "5", "--out", str(out)]
    result = subprocess.run([sys.executable, "-m", "rlkit.cli", *argv], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("rlkit match: error: game 1: ")
    assert f"; {out / 'game-001.sgf'} keeps its 4 moves, with no result" in result.stderr
    record = read_sgf(out / "game-001.sgf")
    assert [(c, format_vertex(a, 5)) for c, a in record.moves] == [(1, "E5"), (2, "A1"), (1, "D5"), (2, "B1")]
    assert "RE" not in record.info and record.info["C"].startswith("unfinished: ")
    assert [p.name for p in out.iterdir()] == ["game-001.sgf"]  # no temporary left


# Passes through its first game, then never answers genmove once a second game has begun.
PASSES_THEN_STALLS = textwrap.dedent("""
    import sys, time
    games = 0
    for line in sys.stdin:
        cmd = line.split()
        games += bool(cmd) and cmd[0] == "clear_board"
        if cmd and cmd[0] == "genmove" and games > 1:
            time.sleep(600)
        reply = {"name": "passes-then-stalls", "genmove": "pass"}.get(cmd[0], "") if cmd else ""
        sys.stdout.write(f"= {reply}\\n\\n")
        sys.stdout.flush()
""")


def test_a_match_stopped_by_a_failing_engine_still_reports_its_finished_games(tmp_path, capsys):
    fake, engine = tmp_path / "fake.py", tmp_path / "engine.py"
    fake.write_text(FAKE)
    engine.write_text(PASSES_THEN_STALLS)
    with pytest.raises(Stopped, match=r"game 2: .* within 2 s; stopped it; the match ends after 1 finished game"):
        main(["--black", f"{sys.executable} {fake}", "--white", f"{sys.executable} {engine}", "--games", "3",
              "--size", "5", "--timeout", "2", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    # Game 1: A1, pass, then A1 again on an occupied point; Black forfeits.
    assert "game 1: black always-a1, white passes-then-stalls: W+F" in out
    assert "engine A (always-a1" in out and "scored 0 of 1 against engine B (passes-then-stalls" in out
    assert [p.name for p in (tmp_path / "out").glob("*.sgf")] == ["game-001.sgf"]


# Passes at every genmove; with the argument "die", exits at the first `play` it is told.
PASSES_OR_DIES_ON_PLAY = textwrap.dedent("""
    import sys
    for line in sys.stdin:
        cmd = line.split()
        if cmd and cmd[0] == "play" and sys.argv[1:] == ["die"]:
            sys.exit(3)
        reply = {"name": "passer", "genmove": "pass"}.get(cmd[0], "") if cmd else ""
        sys.stdout.write(f"= {reply}\\n\\n")
        sys.stdout.flush()
""")


def test_a_draw_scores_half_a_point(tmp_path, capsys):
    """Two passers at komi 0 draw every game (result '0'): engine A scores 0.5 a game, 1 of 2, not 0."""
    script, out = tmp_path / "passer.py", tmp_path / "out"
    script.write_text(PASSES_OR_DIES_ON_PLAY)
    assert main(["--black", f"{sys.executable} {script}", "--white", f"{sys.executable} {script}", "--games", "2",
                 "--size", "5", "--komi", "0", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert [read_sgf(out / f"game-00{i}.sgf").info["RE"] for i in (1, 2)] == ["0", "0"]
    assert "scored 1 of 2 against engine B" in text and "win rate 0.500" in text, text


def test_a_game_cut_short_after_its_last_move_is_kept_without_a_result(tmp_path):
    """Black dies when told of White's closing pass: the referee's game is over, but the match never
    scored it, so its record must not claim a result."""
    script, out = tmp_path / "passer.py", tmp_path / "out"
    script.write_text(PASSES_OR_DIES_ON_PLAY)
    with pytest.raises(Stopped, match="keeps its 2 moves, with no result"):
        main(["--black", f"{sys.executable} {script} die", "--white", f"{sys.executable} {script}", "--games", "1",
              "--size", "5", "--out", str(out)])
    record = read_sgf(out / "game-001.sgf")
    assert len(record.moves) == 2 and "RE" not in record.info


def test_a_record_that_cannot_be_written_stops_the_match_in_one_line(tmp_path, capsys, monkeypatch):
    """A full disk at game 2's record: the finished game is reported, then one line names the file."""
    import errno

    import rlkit.envs.go.match as match
    from rlkit.envs.go.sgf import write_sgf

    def disk_full_after_one(path, *args, **kwargs):
        if path.name != "game-001.sgf":
            raise OSError(errno.ENOSPC, "No space left on device")
        write_sgf(path, *args, **kwargs)

    monkeypatch.setattr(match, "write_sgf", disk_full_after_one)
    fake = tmp_path / "fake.py"
    fake.write_text(FAKE)
    out_dir = tmp_path / "out"
    with pytest.raises(Stopped) as error:  # a system failure mid-match (exit 1), not bad input
        main(["--black", f"{sys.executable} {fake}", "--white", f"{sys.executable} {fake}", "--games", "3",
              "--size", "5", "--out", str(out_dir)])
    assert str(error.value) == (f"--out {out_dir}: cannot write game-002.sgf (No space left on device); "
                                "the match ends after 1 recorded game(s)")
    # game 1: White, the same always-A1 engine, plays on Black's stone and forfeits; A (Black) scores 1
    assert "scored 1 of 1 against engine B" in capsys.readouterr().out
    assert [p.name for p in out_dir.glob("*.sgf")] == ["game-001.sgf"]


def test_ctrl_c_stops_an_engine_that_never_answers_at_once(tmp_path):
    """Ctrl-C while an engine has not answered `name`: exit 130 within seconds, and the engine
    (which ignores its input and would sleep for 600 s) is stopped, not left behind."""
    silent, pid_file, fake = tmp_path / "silent.py", tmp_path / "engine.pid", tmp_path / "fake.py"
    silent.write_text(f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)")
    fake.write_text(FAKE)
    match = subprocess.Popen([sys.executable, "-P", "-m", "rlkit.cli", "match", "--black", f"{sys.executable} {fake}",
                              "--white", f"{sys.executable} {silent}", "--games", "1", "--size", "5",
                              "--out", str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             # a suite started in the background by a shell ignores SIGINT, and so would the match
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the match is now waiting for the engine's reply
    match.send_signal(signal.SIGINT)
    match.communicate(timeout=10)  # not the 60 s reply timeout, nor the engine's sleep
    assert match.returncode == 130
    deadline = time.monotonic() + 5
    while not _gone(int(pid_file.read_text())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(int(pid_file.read_text()))


@pytest.mark.parametrize("script", [
    "import time; time.sleep(600)",  # reads nothing, writes nothing
    "import sys, time; sys.stdout.write('= half a reply\\n'); sys.stdout.flush(); time.sleep(600)",  # no blank line
])
def test_gtp_client_gives_up_on_a_silent_engine_and_reaps_it(tmp_path, script):
    engine = tmp_path / "silent.py"
    engine.write_text(script)
    client = GtpClient(f"{sys.executable} {engine}", timeout=0.3)
    with pytest.raises(GtpError, match="did not answer 'name' within 0.3 s"):  # not the script's 600 s
        client.ask("name")
    assert client.proc.returncode is not None and _reaped(client.proc.pid)
    client.close()  # closing a stopped engine is harmless


def _gone(pid: int) -> bool:
    """True once a process (not necessarily our child) has exited: absent, or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_stopped_engine_takes_what_its_wrapper_started_with_it(tmp_path):
    """`sh -c` runs the real engine as a grandchild; a timeout must stop that one too."""
    silent, pid_file = tmp_path / "silent.py", tmp_path / "engine.pid"
    silent.write_text(f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)")
    client = GtpClient(f"sh -c '{sys.executable} {silent}; true'", timeout=2.0)
    with pytest.raises(GtpError, match="did not answer"):
        client.ask("name")
    deadline = time.monotonic() + 10
    while not _gone(int(pid_file.read_text())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(int(pid_file.read_text()))
    client.close()


def test_a_timeout_longer_than_epoll_can_wait_still_works(tmp_path):
    fake = tmp_path / "fake.py"
    fake.write_text(FAKE)
    with GtpClient(f"{sys.executable} {fake}", timeout=3e6) as client:
        assert client.send("name") == "always-a1"


def test_an_engine_that_echoes_is_refused_at_once(tmp_path):
    """The review's `--white cat`: its echo is not a GTP reply, so it is refused without waiting for a timeout."""
    fake = tmp_path / "fake.py"
    fake.write_text(FAKE)
    # a wait for the 120 s timeout would end in "did not answer", not in this message
    with pytest.raises(UserError, match=r"--white 'cat': .*malformed reply to 'name'"):
        main(["--black", f"{sys.executable} {fake}", "--white", "cat", "--games", "1", "--timeout", "120",
              "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()  # a match that cannot start leaves no --out folder


def test_a_match_started_in_the_same_second_as_another_gets_its_own_default_folder(tmp_path, monkeypatch):
    """Without --out, two matches started in the same second both wrote runs/match-TIMESTAMP/game-001.sgf
    and so on: the second one's records replaced the first one's."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("time.strftime", lambda _: "20261128-120000")
    first = tmp_path / "runs" / "match-20261128-120000"
    first.mkdir(parents=True)  # the other match's folder, made as it started: no record in it yet
    assert main(["--black", f"{OURS} --seed 1", "--white", f"{OURS} --seed 2", "--games", "1", "--size", "5"]) == 0
    assert list(first.iterdir()) == []
    assert [p.name for p in (tmp_path / "runs" / "match-20261128-120000-2").iterdir()] == ["game-001.sgf"]


def test_a_runs_link_to_nowhere_is_one_line_not_an_endless_search_for_a_free_name(tmp_path):
    """runs/ a link to a disk not mounted: mkdir's FileExistsError (from runs, not the match's name) was
    taken for a name another match had claimed, and -2, -3, ... were tried for ever."""
    (tmp_path / "runs").symlink_to(tmp_path / "not-mounted")
    result = subprocess.run([sys.executable, "-P", "-m", "rlkit.cli", "match", "--black", OURS, "--white", OURS],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "rlkit match: error: runs: cannot create folder: File exists; give one with --out\n"


def test_an_out_folder_with_records_is_refused_and_left_untouched(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    before = {}
    for number in range(1, 5):  # as left by an earlier 4-game match
        path = out / f"game-{number:03d}.sgf"
        path.write_text(f"(;GM[1]SZ[9]C[earlier game {number}])")
        before[path.name] = path.read_bytes()
    # The engines would fail to start: refusing the folder must come first, before any game.
    with pytest.raises(UserError, match=f"--out {out}: already holds 4 game record"):
        main(["--black", "/no/such/engine", "--white", "/no/such/engine", "--games", "2", "--out", str(out)])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("args,message", [
    (["--games", "0"], "--games 0"),
    (["--timeout", "0"], "--timeout 0"),
    (["--size", "3"], "--size 3"),
    (["--black", "/no/such/engine"], "--black '/no/such/engine'"),
    (["--white", "gnugo-not-here --mode gtp"], "Debian installs GNU Go as /usr/games/gnugo"),
    (["--white", "rlkit-not-here gtp"], "No such file or directory (is rlkit-not-here on PATH?)"),  # no GNU Go hint
    (["--size", "5", "--max-moves", "100000"], "--max-moves 100000"),
    (["--komi", "nan"], "--komi nan: must be a decimal number"),
])
def test_bad_options_are_one_line_errors(tmp_path, args, message):
    """...and leave no --out folder behind (an engine that cannot start left an empty one)."""
    base = {"--black": OURS, "--white": OURS, "--out": str(tmp_path / "out")}
    for key, value in zip(args[::2], args[1::2]):
        base[key] = value
    argv = [x for kv in base.items() for x in kv]
    with pytest.raises(UserError, match=re.escape(message)):
        main(argv)
    result = subprocess.run([sys.executable, "-m", "rlkit.cli", "match", *argv], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr and message in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args,message", [
    (["--black", "x"], "rlkit match: error: the following arguments are required: --white"),
    (["--black", "x", "--white", "y", "--timeout", "soon"],
     "rlkit match: error: argument --timeout: invalid float value: 'soon'"),
    (["--black", "x", "--white", "y", "--out", ""], "rlkit match: error: --out '': give a folder name"),  # ran into runs/
])
def test_argument_errors_are_one_line(capsys, args, message):
    assert_one_line_error(capsys, ["match", *args], message)


def test_help_documents_the_timeout(capsys):
    assert "--timeout SECONDS longest wait for each engine reply" in help_text(capsys, "match")


class FirstLegalPoint:
    """A stand-in engine that plays the first legal point, so its games run long without passing."""

    def __init__(self, size: int):
        self.game = Game(size, 0.5, max_moves=10_000)

    def send(self, command: str) -> str:
        words = command.split()
        if words[0] != "genmove":
            return ""
        color = 1 if words[1] == "black" else 2
        legal = [p for p in range(self.game.pass_action) if self.game.is_legal(p, color)]
        action = legal[0] if legal else self.game.pass_action
        self.game.play(action, color)
        return format_vertex(action, self.game.size)

    def ask(self, command: str) -> tuple[bool, str]:
        _, name, vertex = command.split()
        self.game.play(parse_vertex(vertex, self.game.size), 1 if name == "black" else 2)
        return True, ""


def test_a_move_limit_beyond_the_default_game_length_is_honoured():
    """--max-moves above 10 x size² (the Game's own default cap) ends the game at the limit, scored."""
    game = Game(5, 0.5, max_moves=400)
    outcome = play_game(FirstLegalPoint(5), FirstLegalPoint(5), game)
    assert len(game.moves) == 400 and outcome.reason == "move limit 400"


def test_record_names_sort_in_game_order():
    assert record_name(7, 20) == "game-007.sgf"
    names = [record_name(number, 1000) for number in (1, 100, 999, 1000)]
    assert names == sorted(names) == ["game-0001.sgf", "game-0100.sgf", "game-0999.sgf", "game-1000.sgf"]


def test_our_engine_against_itself_on_9x9(tmp_path, capsys):
    assert main(["--black", f"{OURS} --seed 1", "--white", f"{OURS} --seed 2", "--games", "2", "--size", "9",
                 "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("game-*.sgf"))) == 2
    record = read_sgf(tmp_path / "game-001.sgf")
    game = replay(record)
    assert game.over and record.info["RE"] == game.result()  # two passes, scored by Tromp-Taylor


def test_an_engine_that_exits_is_quoted_on_why(tmp_path):
    """Its error output was thrown away: a mistyped engine option said only 'exited while answering'."""
    with pytest.raises(UserError, match=r"--white '.*' exited while answering 'name': "
                                        r"rlkit gtp: error: --size 30: board size must be 5\.\.19$"):
        main(["--black", OURS, "--white", f"{OURS} --size 30", "--games", "1", "--out", str(tmp_path / "out")])


def test_a_match_whose_engine_never_starts_leaves_no_default_folder(tmp_path, monkeypatch):
    """Without --out, an engine that exits before the first game left an empty runs/match-TIMESTAMP behind."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="exited while answering"):
        main(["--black", OURS, "--white", f"{OURS} --size 30", "--games", "1"])
    assert list((tmp_path / "runs").iterdir()) == []


def test_an_engine_that_chatters_on_stderr_is_not_held_up_by_it(tmp_path):
    """Its error output is read while it answers: a full pipe would stop an engine that writes much of it."""
    fake = tmp_path / "chatty.py"
    fake.write_text("import sys\nfor line in sys.stdin:\n    sys.stderr.write('x' * 1_000_000 + '\\n'); sys.stderr.flush()\n"
                    "    print('= chatty\\n', flush=True)\n")
    with GtpClient(f"{sys.executable} {fake}", timeout=20) as client:
        assert [client.send("name") for _ in range(3)] == ["chatty"] * 3


def test_close_leaves_nothing_of_the_engine_running(tmp_path):
    """A wrapper that left a helper running (sh -c 'helper & exec engine') kept the engine's stderr open: close
    waited a second for the reader thread, then left it, the pipe and the helper behind."""
    fake = tmp_path / "wrapper.py"
    fake.write_text("import subprocess, sys\nhelper = subprocess.Popen(['sleep', '600'])\n"
                    "for line in sys.stdin:\n    print(f'= {helper.pid}\\n', flush=True)\n"
                    "    if line.strip() == 'quit':\n        break\n")
    client = GtpClient(f"{sys.executable} {fake}", timeout=20)
    helper = int(client.send("name"))
    client.close()
    # the reader reached the end of the pipe: the helper, which held it for 600 s, has been stopped
    assert helper > 0 and not client._stderr_reader.is_alive() and client.proc.stderr.closed
