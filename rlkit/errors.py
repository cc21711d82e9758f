"""The one exception type users see: a clear one-line message, exit status 2, no traceback."""

from __future__ import annotations

import argparse


class UserError(Exception):
    """Bad input from the user (config file, key, value, command, run folder)."""


class Stopped(Exception):
    """A command that started well cannot go on (a failing engine, a system error); exit status 1."""


class TrainingStopped(Stopped):
    """Training cannot go on: its weights stopped being finite, or a checkpoint cannot be written.
    The run keeps the checkpoints it saved (none is pushed out by a useless one); exit status 1."""


class Terminated(KeyboardInterrupt):
    """SIGTERM before a command installs its own handling: unwinds as Ctrl-C does; exit status 143."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports bad arguments as a UserError (one line, exit 2) instead of usage text."""

    def error(self, message: str) -> None:
        raise UserError(message)
