"""`rlkit match`: a match between two GTP engines, refereed and scored by rlkit's own rules.

Engine A (`--black`) takes Black in odd-numbered games and White in even ones; engine B
(`--white`) the other colour. Each game ends at two passes in a row (scored Tromp-Taylor with
komi), a resignation, an illegal move (a forfeit), or `--max-moves` (scored as it stands).
Every game is written as SGF; the win rate of engine A comes with a 95% Wilson interval.
An engine that exits, answers out of protocol, or takes longer than `--timeout` seconds to answer
stops the match with a one-line error and exit status 1 (exit status 2 while it is starting up; a
slow engine is killed first); games
already played keep their records, and the game it cut short is kept as SGF with no result. An
--out folder that already holds game records is refused, so none is overwritten.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

from rlkit.errors import ArgumentParser, Stopped, UserError
from rlkit.run_folder import claim_new_folder

from .coords import color_letter, format_vertex, parse_vertex
from .game import Game, format_komi
from .gtp import check_size_option, komi_option
from .gtp_client import GtpClient, GtpError
from .sgf import write_sgf


def wilson_interval(wins: float, games: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% for z = 1.96)."""
    if games == 0:
        return 0.0, 1.0
    p = wins / games
    denom = 1 + z * z / games
    centre = (p + z * z / (2 * games)) / denom
    half = z * math.sqrt(p * (1 - p) / games + z * z / (4 * games * games)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Outcome:
    """How one game ended: winner colour (0 for a draw), the SGF result text and why it ended."""

    winner: int
    result: str
    reason: str


def play_game(black: GtpClient, white: GtpClient, game: Game) -> Outcome:
    """Play `game` (a new Game, the referee) to its end between two started engines. Moves go into
    `game` as they are made, so a GtpError leaves the game as far as it got."""
    size, max_moves = game.size, game.max_moves
    engines = {1: black, 2: white}
    for engine in engines.values():
        for command in (f"boardsize {size}", "clear_board", f"komi {format_komi(game.komi)}"):
            engine.send(command)
    color = 1
    while not game.over and len(game.moves) < max_moves:
        name = "black" if color == 1 else "white"
        reply = engines[color].send(f"genmove {name}").strip()
        if reply.lower() == "resign":
            return Outcome(3 - color, f"{color_letter(3 - color)}+R", f"{name} resigned")
        try:
            action = parse_vertex(reply, size)
        except ValueError:
            return Outcome(3 - color, f"{color_letter(3 - color)}+F", f"{name} answered genmove with {reply!r}")
        if not game.is_legal(action, color):
            return Outcome(3 - color, f"{color_letter(3 - color)}+F", f"{name} played illegal {reply}")
        game.play(action, color)
        ok, text = engines[3 - color].ask(f"play {name} {format_vertex(action, size)}")
        if not ok:
            other = "white" if color == 1 else "black"
            return Outcome(color, f"{color_letter(color)}+F", f"{other} refused legal {reply}: {text}")
        color = 3 - color
    score = game.score()
    reason = "two passes" if game.over else f"move limit {max_moves}"
    return Outcome(0 if score == 0 else (1 if score > 0 else 2), game.result(), reason)


def _start(command: str, option: str, timeout: float) -> tuple[GtpClient, str]:
    """Start an engine and ask its name; UserError naming the option if it cannot be driven."""
    try:
        client = GtpClient(command, timeout)
    except GtpError as error:
        raise UserError(f"{option} '{command}': {error}") from None
    try:
        name = client.send("name")
        version = client.ask("version")
    except GtpError as error:
        client.close()
        raise UserError(f"{option} '{command}': {error}") from None
    except BaseException:  # Ctrl-C while the engine has not answered: stop it without waiting
        client.kill()
        client.close()
        raise
    return client, f"{name} {version[1]}".strip() if version[0] else name


def record_name(number: int, games: int) -> str:
    """game-NNN.sgf with as many digits as the last game needs (at least 3), so records list in order."""
    return f"game-{number:0{max(3, len(str(games)))}d}.sgf"


def _check_out_folder(out: Path) -> None:
    """Create the --out folder; refuse one that already holds game records, so none is overwritten."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"--out {out}: cannot create folder: {error.strerror}") from None
    taken = sorted(p.name for p in out.glob("game-*.sgf"))
    if taken:
        raise UserError(f"--out {out}: already holds {len(taken)} game record(s) ({taken[0]} ...); "
                        "choose a new folder so they are not overwritten")


def _new_default_out() -> Path:
    """Make runs/match-TIMESTAMP (-2, -3, ... for another match started in the same second), so two
    matches never write their records into one folder."""
    try:
        return claim_new_folder(Path("runs"), f"match-{time.strftime('%Y%m%d-%H%M%S')}")
    except OSError as error:
        raise UserError(f"{error.filename}: cannot create folder: {error.strerror}; give one with --out") from None


def _moves(count: int) -> str:
    return f"{count} move{'' if count == 1 else 's'}"


def _keep_unfinished(path: Path, game: Game, names: tuple[str, str], error: GtpError) -> str:
    """Write a game that an engine failure cut short as SGF with no result (RE) and the failure as
    its comment; return a note naming the file for the error message ('' when nothing was played)."""
    if not game.moves:
        return ""
    try:
        # result "": no RE even where the referee's game is over (an engine failing on the last `play`)
        write_sgf(path, game, black=names[0], white=names[1], result="", comment=f"unfinished: {error}")
    except OSError:
        return ""
    return f"; {path} keeps its {_moves(len(game.moves))}, with no result"


def summary(a_name: str, a_command: str, b_name: str, b_command: str, score_a: float, games: int) -> str:
    """One line: engine A's score over `games` finished games, its win rate and 95% Wilson interval."""
    low, high = wilson_interval(score_a, games)
    return (f"engine A ({a_name}: {a_command}) scored {score_a:g} of {games} against "
            f"engine B ({b_name}: {b_command}): win rate {score_a / games:.3f}, "
            f"95% Wilson interval [{low:.3f}, {high:.3f}]")


def main(argv: list[str]) -> int:
    """Entry point of `rlkit match`."""
    parser = ArgumentParser(prog="rlkit match", description="Play a match between two GTP engines.")
    parser.add_argument("--black", required=True, metavar="CMD", help="engine A: Black in game 1, colours alternate")
    parser.add_argument("--white", required=True, metavar="CMD", help="engine B: White in game 1")
    parser.add_argument("--games", type=int, default=10, help="number of games (default 10)")
    parser.add_argument("--size", type=int, default=9, help="board size 5..19 (default 9)")
    parser.add_argument("--komi", default="7.5", help="komi (default 7.5)")
    parser.add_argument("--max-moves", type=int, default=None, help="stop and score a game after this many moves "
                        "(default 3*size*size)")
    parser.add_argument("--out", help="new folder for the SGF records game-NNN.sgf (as many digits as --games "
                             "needs, at least 3); one already holding "
                        "records is refused (default runs/match-TIMESTAMP)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                        help="longest wait for each engine reply; an engine slower than this is stopped "
                        "and so is the match (default 60)")
    args = parser.parse_args(argv)
    if args.games < 1:
        raise UserError(f"--games {args.games}: must be at least 1")
    check_size_option(args.size)
    komi = komi_option(args.komi)
    max_moves = args.max_moves if args.max_moves is not None else 3 * args.size * args.size
    longest = 100 * args.size * args.size  # the referee's superko table grows with the limit
    if not 1 <= max_moves <= longest:
        raise UserError(f"--max-moves {max_moves}: must be 1..{longest} on a {args.size}x{args.size} board")
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UserError(f"--timeout {args.timeout:g}: must be a positive number of seconds")
    if args.out == "":
        raise UserError("--out '': give a folder name")
    if args.out:
        out = Path(args.out)
        made = not out.exists()
        _check_out_folder(out)
    else:
        out, made = _new_default_out(), True
    try:
        return _play_match(args, out, komi, max_moves)
    finally:
        if made and out.is_dir() and not any(out.iterdir()):  # an engine that never started: no empty folder left
            out.rmdir()


def _play_match(args: argparse.Namespace, out: Path, komi: float, max_moves: int) -> int:
    """The games of `rlkit match`, once its options are checked."""
    a, a_name = _start(args.black, "--black", args.timeout)
    try:
        b, b_name = _start(args.white, "--white", args.timeout)
    except BaseException:
        a.close()
        raise
    score_a, finished = 0.0, 0

    def report_finished() -> None:
        """The finished games still count: report them before the match stops early."""
        if finished:
            print(summary(a_name, args.black, b_name, args.white, score_a, finished), flush=True)

    try:
        for number in range(1, args.games + 1):
            a_is_black = number % 2 == 1
            black, white = (a, b) if a_is_black else (b, a)
            names = (a_name, b_name) if a_is_black else (b_name, a_name)
            game = Game(args.size, komi, max_moves=max_moves)
            path = out / record_name(number, args.games)
            try:
                outcome = play_game(black, white, game)
            except GtpError as error:
                report_finished()
                note = f"; the match ends after {finished} finished game(s)" if finished else ""
                raise Stopped(f"game {number}: {error}{_keep_unfinished(path, game, names, error)}{note}") from None
            try:
                write_sgf(path, game, black=names[0], white=names[1], result=outcome.result)
            except OSError as error:  # a full disk: the records already written stay whole (atomic writes)
                report_finished()
                raise Stopped(f"--out {out}: cannot write {path.name} ({error.strerror or error}); "
                              f"the match ends after {finished} recorded game(s)") from None
            a_color = 1 if a_is_black else 2
            score_a += 1.0 if outcome.winner == a_color else 0.5 if outcome.winner == 0 else 0.0
            print(f"game {number}: black {names[0]}, white {names[1]}: {outcome.result} "
                  f"({outcome.reason}, {_moves(len(game.moves))}) -> {path}", flush=True)
            finished += 1
    except KeyboardInterrupt:  # an engine may be mid-reply and unable to take `quit`: stop both now
        a.kill()
        b.kill()
        report_finished()
        raise
    finally:
        a.close()
        b.close()
    print(summary(a_name, args.black, b_name, args.white, score_a, args.games))
    return 0
