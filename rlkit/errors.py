"""The one exception type users see: a clear one-line message, exit status 2, no traceback."""

from __future__ import annotations

import argparse


class UserError(Exception):
    """Bad input from the user (config file, key, value, command, run folder)."""


class TrainingDiverged(Exception):
    """The weights stopped being finite. Nothing is saved from then on, so the checkpoints already
    written (the newest few are kept) are not pushed out by useless ones; exit status 1."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports bad arguments as a UserError (one line, exit 2) instead of usage text."""

    def error(self, message: str) -> None:
        raise UserError(message)
