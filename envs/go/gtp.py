"""`rlkit gtp`: a Go Text Protocol (version 2) engine on stdin/stdout.

Without a checkpoint `genmove` plays a uniformly random legal move that never fills the mover's
own true eyes (pass when none is left), so the engine is playable before any agent exists.
Every error is a `? message` reply; the loop only ends on `quit` or end of input.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from rlkit import __version__
from rlkit.console import point_at_dev_null
from rlkit.errors import ArgumentParser, UserError, one_line

from . import engine as E
from .coords import GTP_LETTERS, color_letter, format_vertex, parse_color, parse_number, parse_vertex
from .game import Game, IllegalMove, format_komi, parse_komi
from .playout import seed as seed_random
from .sgf import SgfError, read_sgf, replay, to_sgf, write_sgf


class GtpFailure(Exception):
    """A command that cannot be carried out: answered `? message`."""


class GtpEngine:
    """Parses GTP commands and answers them against one Game."""

    def __init__(self, size: int = 19, komi: float = 7.5, genmove: Callable[[Game], int] | None = None):
        self.game = Game(size, komi)
        self.handicap = 0  # a loaded game's SGF HA, written back by printsgf
        self.genmove_policy = genmove or (lambda game: game.random_action(avoid_eyes=True))
        self.quit = False
        self.commands: dict[str, Callable[[list[str]], str]] = {
            name[4:]: getattr(self, name) for name in dir(self) if name.startswith("cmd_")
        }

    def handle(self, line: str) -> str | None:
        """Answer one input line with a full response ('= ...' or '? ...' plus a blank line); None if blank."""
        line = "".join(ch for ch in line if ch >= " " or ch in "\t\n").split("#", 1)[0]
        words = line.replace("\t", " ").split()
        if not words:
            return None
        ident = ""
        if parse_number(words[0]) is not None:
            ident, words = words[0], words[1:]
            if not words:
                return f"?{ident} missing command\n\n"
        name, args = words[0], words[1:]
        command = self.commands.get(name)
        try:
            if command is None:
                raise GtpFailure("unknown command")
            text = command(args)
        except GtpFailure as failure:
            return f"?{ident} {one_line(str(failure))}\n\n"
        except Exception as error:  # noqa: BLE001 - the engine must stay alive whatever a command hits
            return f"?{ident} internal error: {type(error).__name__}: {one_line(str(error))}\n\n"
        return f"={ident} {text}\n\n" if text else f"={ident}\n\n"

    # -- helpers ---------------------------------------------------------------------------

    def _args(self, args: list[str], count: int, usage: str) -> list[str]:
        if len(args) < count:
            raise GtpFailure(f"syntax error: expected {usage}")
        return args

    def _color(self, text: str) -> int:
        try:
            return parse_color(text)
        except ValueError as error:
            raise GtpFailure(str(error)) from None

    def _vertex(self, text: str) -> int:
        try:
            return parse_vertex(text, self.game.size)
        except ValueError as error:
            raise GtpFailure(str(error)) from None

    # -- administrative ------------------------------------------------------------------

    def cmd_protocol_version(self, args: list[str]) -> str:
        return "2"

    def cmd_name(self, args: list[str]) -> str:
        return "rlkit"

    def cmd_version(self, args: list[str]) -> str:
        return __version__

    def cmd_known_command(self, args: list[str]) -> str:
        return "true" if args and args[0] in self.commands else "false"

    def cmd_list_commands(self, args: list[str]) -> str:
        return "\n".join(sorted(self.commands))

    def cmd_quit(self, args: list[str]) -> str:
        self.quit = True
        return ""

    # -- setup -----------------------------------------------------------------------------

    def cmd_boardsize(self, args: list[str]) -> str:
        (size, *_) = self._args(args, 1, "boardsize SIZE")
        size = parse_number(size)
        if size is None or not E.MIN_SIZE <= size <= E.MAX_SIZE:
            raise GtpFailure("unacceptable size")
        self.game, self.handicap = Game(size, self.game.komi), 0
        return ""

    def cmd_clear_board(self, args: list[str]) -> str:
        self.game.clear()
        self.handicap = 0
        return ""

    def cmd_komi(self, args: list[str]) -> str:
        (value, *_) = self._args(args, 1, "komi VALUE")
        try:
            self.game.komi = parse_komi(value)
        except ValueError:
            raise GtpFailure("komi not a float") from None
        return ""

    def cmd_loadsgf(self, args: list[str]) -> str:
        """The file's main line, up to (not including) move MOVE_NUMBER when given."""
        (path, *rest) = self._args(args, 1, "loadsgf FILE [MOVE_NUMBER]")
        until = None
        if rest:
            until = parse_number(rest[0])
            if until is None:
                raise GtpFailure("move number is not an integer")
        try:
            record = read_sgf(path)
            game = replay(record, until, name=path)
        except SgfError as error:
            raise GtpFailure(f"cannot load file: {error}") from None
        handicap = record.info.get("HA", "0")
        self.game, self.handicap = game, parse_number(handicap) or 0
        return ""

    # -- play ------------------------------------------------------------------------------

    def cmd_play(self, args: list[str]) -> str:
        color_text, vertex_text = self._args(args, 2, "play COLOR VERTEX")[:2]
        color, action = self._color(color_text), self._vertex(vertex_text)
        try:
            self.game.play(action, color)
        except IllegalMove as error:
            raise GtpFailure(str(error)) from None
        return ""

    def cmd_genmove(self, args: list[str]) -> str:
        """COLOR moves now (whoever was to play): the policy's move, played and returned as a vertex."""
        color = self._color(self._args(args, 1, "genmove COLOR")[0])
        self.game.to_play = color
        action = int(self.genmove_policy(self.game))
        try:
            self.game.play(action, color)
        except IllegalMove as error:
            raise GtpFailure(f"generated move {format_vertex(action, self.game.size)}: {error}") from None
        return format_vertex(action, self.game.size)

    def cmd_undo(self, args: list[str]) -> str:
        if not self.game.moves:
            raise GtpFailure("cannot undo")
        self.game.undo()
        return ""

    def cmd_is_legal(self, args: list[str]) -> str:
        color_text, vertex_text = self._args(args, 2, "is_legal COLOR VERTEX")[:2]
        color, action = self._color(color_text), self._vertex(vertex_text)
        return "1" if self.game.is_legal(action, color) else "0"

    # -- information -----------------------------------------------------------------------

    def cmd_final_score(self, args: list[str]) -> str:
        return self.game.result()

    def cmd_list_stones(self, args: list[str]) -> str:
        color = self._color(self._args(args, 1, "list_stones COLOR")[0])
        return " ".join(format_vertex(p, self.game.size) for p in self.game.stones(color))

    def cmd_captures(self, args: list[str]) -> str:
        color = self._color(self._args(args, 1, "captures COLOR")[0])
        return str(self.game.captures(color))

    def cmd_showboard(self, args: list[str]) -> str:
        n, board = self.game.size, self.game.board()
        letters = "   " + " ".join(GTP_LETTERS[:n])
        lines = ["", letters]
        for r in range(n):
            cells = " ".join(".XO"[c] for c in board[r])
            lines.append(f"{n - r:2d} {cells} {n - r:<2d}")
        lines.append(letters)
        lines.append(f"Black (X) has captured {self.game.captures(1)}, White (O) has captured "
                     f"{self.game.captures(2)}; {color_letter(self.game.to_play)} to play; komi {format_komi(self.game.komi)}")
        return "\n".join(lines)

    def cmd_printsgf(self, args: list[str]) -> str:
        """The game as SGF: written to FILE when given (its folder must exist), else returned."""
        if args:
            if not Path(args[0]).parent.is_dir():  # write_sgf would make the missing folders
                raise GtpFailure(f"cannot write {args[0]}: no such folder")
            try:
                write_sgf(args[0], self.game, black="", white="", handicap=self.handicap)
            except OSError as error:
                raise GtpFailure(f"cannot write {args[0]}: {error.strerror}") from None
            return ""
        return to_sgf(self.game, handicap=self.handicap).strip()


def serve(engine: GtpEngine, stdin: TextIO, stdout: TextIO) -> None:
    """Answer GTP commands from stdin on stdout until `quit`, end of input, or the controller
    closing its end of stdout (then quietly: the session is over)."""
    try:
        for line in stdin:
            reply = engine.handle(line)
            if reply is not None:
                stdout.write(reply)
                stdout.flush()
            if engine.quit:
                break
    except BrokenPipeError:
        if stdout is sys.stdout:  # else Python's exit flushes into the closed pipe and prints a traceback
            point_at_dev_null(sys.stdout)


def check_size_option(size: int) -> None:
    """A command's --size: a UserError unless rlkit's engine plays that board."""
    if not E.MIN_SIZE <= size <= E.MAX_SIZE:
        raise UserError(f"--size {size}: board size must be {E.MIN_SIZE}..{E.MAX_SIZE}")


def komi_option(text: str) -> float:
    """A command's --komi as a number, or a UserError naming the option."""
    try:
        return parse_komi(text)
    except ValueError:
        raise UserError(f"--komi {text}: must be a decimal number such as 6.5") from None


def main(argv: list[str]) -> int:
    """Entry point of `rlkit gtp`."""
    parser = ArgumentParser(prog="rlkit gtp", description="Play Go over GTP version 2 on stdin/stdout; "
                            "genmove plays a random legal move that never fills its own eyes.")
    parser.add_argument("--size", type=int, default=19, help="initial board size, 5..19 (default 19)")
    parser.add_argument("--komi", default="7.5", help="initial komi (default 7.5)")
    parser.add_argument("--checkpoint", metavar="PATH", help="reserved for the AlphaZero Go agent, which rlkit "
                        "does not have yet: not available, refused with an error")
    parser.add_argument("--level", type=int, default=None, metavar="N", help="reserved with --checkpoint: search "
                        "simulations per move for the AlphaZero agent; the random player ignores it")
    parser.add_argument("--seed", type=int, default=None, help="seed for the random player")
    args = parser.parse_args(argv)
    check_size_option(args.size)
    komi = komi_option(args.komi)
    if args.level is not None and args.level < 1:
        raise UserError(f"--level {args.level}: must be at least 1")
    if args.checkpoint is not None:
        raise UserError(f"--checkpoint {args.checkpoint}: no Go agent exists in rlkit yet; "
                        "run without --checkpoint to play the random legal-move player")
    if args.seed is not None:
        if not 0 <= args.seed < 2**32:
            raise UserError(f"--seed {args.seed}: must be 0..{2**32 - 1}")
        seed_random(args.seed)
    serve(GtpEngine(args.size, komi), sys.stdin, sys.stdout)
    return 0
