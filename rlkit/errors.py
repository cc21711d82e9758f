"""The exceptions that end a command with one line and no traceback: UserError (bad input, exit
status 2), Stopped (cannot go on, exit status 1) and Terminated (SIGTERM, exit status 143)."""

from __future__ import annotations

import argparse


def one_line(text: str) -> str:
    """`text` with line breaks and other unprintable characters escaped as repr() writes them, so a
    message that quotes user input stays one line (and a GTP reply keeps its framing)."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


class UserError(Exception):
    """Bad input from the user (config file, key, value, command, run folder)."""


class DamagedState(ValueError):
    """A saved state that no run writes (a damaged or edited checkpoint), found while restoring it:
    the file is at fault, not the config or its overrides."""


class Stopped(Exception):
    """A command that started well cannot go on (a failing engine, a system error); exit status 1."""


class TrainingStopped(Stopped):
    """Training cannot go on: its weights stopped being finite, or a checkpoint cannot be written.
    The run keeps the checkpoints it saved (none is pushed out by a useless one); exit status 1."""


class Terminated(KeyboardInterrupt):
    """SIGTERM before a command installs its own handling: unwinds as Ctrl-C does; exit status 143."""


def raise_terminated(signum: int, frame: object) -> None:
    """A SIGTERM handler: unwind as Ctrl-C does (a half-made run is undone, GTP engines stopped)."""
    raise Terminated


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports bad arguments as a UserError (one line, exit 2) instead of usage text."""

    def error(self, message: str) -> None:
        raise UserError(message)
