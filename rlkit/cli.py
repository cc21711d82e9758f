"""The `rlkit` command: a registry of subcommands, each owned by the module that implements it."""

from __future__ import annotations

import importlib
import os
import signal
import sys

from rlkit.console import prepare_standard_streams, stdout_failed
from rlkit.errors import Stopped, Terminated, UserError, one_line, raise_terminated

# name -> (module whose `main(argv) -> int` runs it, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("rlkit.train", "train an agent from a YAML config, or --resume a run"),
    "evaluate": ("rlkit.evaluate", "play a trained checkpoint for whole episodes and report its returns"),
    "gtp": ("rlkit.envs.go.gtp", "play Go over the Go Text Protocol on stdin/stdout"),
    "match": ("rlkit.envs.go.match", "play a match between two GTP engines"),
}


def _usage() -> str:
    lines = ["usage: rlkit COMMAND [ARGS ...]", "", "commands:"]
    lines += [f"  {name:<9} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `rlkit COMMAND --help` for a command's options; `rlkit --version` for the version."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a subcommand; turn UserError into one line on stderr and exit status 2
    (Stopped, a command that cannot go on, such as a run whose disk is full: one line, exit status 1).

    Without `argv` this is the `rlkit` process itself: SIGTERM unwinds as Ctrl-C does from the
    start, and once the command is over both are ignored, as a signal while the interpreter shuts
    down (a second or so with torch loaded) would change the exit status or print a traceback."""
    if argv is not None:
        return _dispatch(argv)
    prepare_standard_streams()
    signal.signal(signal.SIGTERM, raise_terminated)
    try:
        return _dispatch(sys.argv[1:])
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _dispatch(argv: list[str]) -> int:
    """Run the command `argv` names and return its exit status; a stdout that fails (its reader went
    away, a full disk) ends it quietly with 141 as SIGPIPE would, or with one line and exit status 1."""
    try:
        try:
            status = _run(argv)
        except SystemExit:  # a command's --help (argparse exits): what it printed is flushed here too
            failure = getattr(sys.stdout, "failure", None)
            if failure is not None:  # argparse drops a write that failed (unbuffered)
                raise failure from None
            if sys.stdout is not None:
                sys.stdout.flush()
            raise
        if sys.stdout is not None:  # what is still buffered (a pipe, a file) fails here, not as the interpreter exits
            sys.stdout.flush()
        return status
    except OSError as error:
        if not stdout_failed(error):
            raise
        if isinstance(error, BrokenPipeError):  # its reader went away (`| head -1`): stop quietly, as SIGPIPE would
            return 128 + signal.SIGPIPE
        name = f"rlkit {argv[0]}" if argv[0] in COMMANDS else "rlkit"
        print(f"{name}: error: cannot write to standard output ({error.strerror})", file=sys.stderr)
        return 1


def _run(argv: list[str]) -> int:
    """Run the command `argv` names; a failed write to stdout is left to _dispatch."""
    if not argv:
        print(f"rlkit: error: give a command ({', '.join(COMMANDS)}); rlkit --help says more", file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] == "--version":
        from importlib.metadata import version  # 40 ms: only here (a signal while importing is a traceback)

        print(f"rlkit {version('rlkit')}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"rlkit: unknown command '{name}' (choose from {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    if name in ("train", "evaluate"):
        try:
            os.getcwd()
        except FileNotFoundError:  # torch's import would die with "oneMKL FATAL ERROR: Cannot load libtorch_cpu.so"
            print(f"rlkit {name}: error: the current folder no longer exists (it was deleted); cd to another",
                  file=sys.stderr)
            return 2
    try:
        module = importlib.import_module(COMMANDS[name][0])
        return int(module.main(rest) or 0)
    except UserError as error:
        print(f"rlkit {name}: error: {one_line(str(error))}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.filename is None:
            raise
        # a path the system refuses before any work began (a name too long, a folder not readable);
        # the commands turn a failed write during their work into Stopped themselves
        print(f"rlkit {name}: error: {one_line(f'{error.filename}: {error.strerror}')}", file=sys.stderr)
        return 2
    except Stopped as error:
        print(f"rlkit {name}: error: {one_line(str(error))}", file=sys.stderr)
        return 1
    except RuntimeError as error:
        if not str(error).startswith("cannot cache function"):
            raise
        # numba's cache=True: neither the source's __pycache__ nor the user's cache folder can be written
        print(f"rlkit {name}: error: {one_line(str(error))} (its __pycache__ folder and ~/.cache are not "
              "writable); set NUMBA_CACHE_DIR to a folder you can write", file=sys.stderr)
        return 2
    except Terminated:
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
