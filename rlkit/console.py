"""The process's console: standard streams the shell closed or cannot take every character, and a
stdout that stops taking output (its reader went away, a full disk). Light: the CLI imports it first."""

from __future__ import annotations

import os
import sys
from typing import TextIO


def prepare_standard_streams() -> None:
    """Give each standard stream the shell closed (`<&-`, `>&-`, `2>&-`) /dev/null, and let stdout
    print what its encoding cannot (PYTHONIOENCODING=ascii) as escapes, and note a failed write to it
    (see stdout_failed).

    Python leaves a closed stream None, which the commands cannot read or print to, and the next
    file opened takes its descriptor: a later write to it (Ctrl-C's note on fd 2) would land there."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            devnull = os.open(os.devnull, os.O_RDWR)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, mode, closefd=False, errors="backslashreplace" if fd else None))
    if sys.stdout.errors == "strict":  # a path with é, or ±, was a UnicodeEncodeError
        sys.stdout.reconfigure(errors="backslashreplace")
    sys.stdout = _Stdout(sys.stdout)


class _Stdout:
    """sys.stdout, remembering a write the system refused: the CLI then knows that stdout (not a run
    folder or an engine's pipe) failed, which a failed print does not show otherwise."""

    def __init__(self, stream: TextIO):
        self._stream = stream
        self.failure: OSError | None = None

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as error:
            self.failure = error
            raise

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as error:
            self.failure = error
            raise

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def stdout_failed(error: OSError) -> bool:
    """Whether `error` is a failed write to stdout (a pipe whose reader went away, a full disk). If so,
    stdout is pointed at /dev/null, so neither a later print nor the flush at exit fails on it again."""
    if getattr(sys.stdout, "failure", None) is not error:
        return False
    point_at_dev_null(sys.stdout)
    return True


def point_at_dev_null(stream: TextIO) -> None:
    """Point a standard stream's descriptor at /dev/null: what it still buffers is flushed there at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    os.close(devnull)


def say(text: str) -> None:
    """Print a line of progress on stdout now. A stdout that fails is dropped rather than stopping
    the work: a run's record is its folder (checkpoints, logs), not its console."""
    try:
        print(text, flush=True)
    except OSError as error:
        if not stdout_failed(error):
            raise


def warn(text: str) -> None:
    """Print a warning on stderr now. A stderr that fails (`2>&1 | head -1`) is dropped, as `say` drops
    stdout: a warning must not stop the run it warns of."""
    try:
        print(text, file=sys.stderr, flush=True)
    except OSError:
        point_at_dev_null(sys.stderr)


def plus_minus() -> str:
    """'±', or '+/-' where stdout's encoding has no such character (LC_ALL=C with PYTHONUTF8=0)."""
    try:
        "±".encode(sys.stdout.encoding or "ascii")
        return "±"
    except (UnicodeEncodeError, LookupError):
        return "+/-"
