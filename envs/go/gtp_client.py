"""Drive a GTP engine in a subprocess: send a command, read its `=`/`?` reply within a time limit."""

from __future__ import annotations

import os
import selectors
import shlex
import signal
import subprocess
import threading
import time

QUIT_SECONDS = 5.0  # close() waits this long for the `quit` reply, then as long again for the exit, before a kill
STDERR_TAIL = 4096  # bytes of the engine's error output kept, to say why it exited


class GtpError(RuntimeError):
    """The engine answered `? message`, answered out of protocol, took too long, or died."""


class GtpClient:
    """A GTP engine started from a shell-style command line, e.g. 'gnugo --mode gtp'.

    Each reply must arrive within `timeout` seconds (None waits forever); an engine that is too
    slow is killed and reaped, and the command raises GtpError. A thread reads the engine's error
    output as it comes (so a chatty engine never waits on a full pipe) and keeps its end, which the
    error for an engine that exits quotes.
    """

    def __init__(self, command: str, timeout: float | None = 60.0):
        self.command = command
        self.timeout = timeout
        try:
            args = shlex.split(command)
        except ValueError as error:
            raise GtpError(f"cannot parse '{command}': {error}") from None
        if not args:
            raise GtpError("empty engine command")
        try:
            # Unbuffered binary pipes: replies are read with os.read into our own line buffer,
            # so select() never misses data hidden in a file object's buffer.
            # its own process group, so a stop also reaches what a wrapper (sh -c, a script) started
            self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, bufsize=0, start_new_session=True)
        except OSError as error:
            gnugo = " Debian installs GNU Go as /usr/games/gnugo" if "gnugo" in args[0] else ""
            hint = f" (is {args[0]} on PATH?{gnugo})" if isinstance(error, FileNotFoundError) else ""
            raise GtpError(f"cannot start '{command}': {error.strerror}{hint}") from None
        self._pending = b""  # bytes read from the engine but not yet split into lines
        self._stderr = b""  # the end of its error output
        self._stderr_reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_reader.start()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)

    def send(self, command: str) -> str:
        """Send one command; returns the reply text after '= ', raises GtpError on '? ...'."""
        ok, text = self.ask(command)
        if not ok:
            raise GtpError(f"'{self.command}' answered '{command}' with: ? {text}")
        return text

    def ask(self, command: str) -> tuple[bool, str]:
        """Send one command; returns (success, reply text) without raising on '?'."""
        return self._request(command, self.timeout)

    def _request(self, command: str, timeout: float | None) -> tuple[bool, str]:
        """Write one command and read its whole reply (up to the blank line) before the deadline."""
        try:
            self.proc.stdin.write((command + "\n").encode())
        except (OSError, ValueError):  # broken pipe, or stdin already closed
            raise GtpError(f"'{self.command}' has exited{self._last_words()}") from None
        deadline = None if timeout is None else time.monotonic() + timeout
        lines: list[str] = []
        while True:
            line = self._readline(command, deadline, timeout)
            if not line and lines:
                break
            if line and not lines and line[:1] not in "=?":
                raise GtpError(f"'{self.command}' gave a malformed reply to '{command}': {line!r}")
            if line or lines:
                lines.append(line)
        head = lines[0]
        text = "\n".join([head[1:].lstrip()] + lines[1:]).strip()
        return head[0] == "=", text

    def _readline(self, command: str, deadline: float | None, timeout: float | None) -> str:
        """Next line of the engine's output, without its line ending; GtpError on exit or timeout."""
        while b"\n" not in self._pending:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                self.kill()
                raise GtpError(f"'{self.command}' did not answer '{command}' within {timeout:g} s; stopped it")
            if not self._selector.select(None if remaining is None else min(remaining, 3600.0)):  # epoll's limit
                continue
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise GtpError(f"'{self.command}' exited while answering '{command}'{self._last_words()}")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode("utf-8", "replace").rstrip("\r")

    def _drain_stderr(self) -> None:
        """The reader thread: keep the last STDERR_TAIL bytes of the engine's error output until it ends."""
        try:
            while chunk := os.read(self.proc.stderr.fileno(), 65536):
                self._stderr = (self._stderr + chunk)[-STDERR_TAIL:]
        except OSError:
            pass

    def _last_words(self) -> str:
        """': LINES', the last two lines the exited engine wrote to stderr (waiting up to a second for the
        reader thread to reach the end; getopt's reason comes before its 'Try --help'), or ''."""
        self._stderr_reader.join(timeout=1.0)
        lines = [line.strip() for line in self._stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        return f": {' | '.join(lines[-2:])[-300:]}" if lines else ""

    def kill(self) -> None:
        """Kill the engine's process group and reap the engine, so nothing is left running
        (for a stop that cannot wait for `quit`: a timeout, or Ctrl-C while the engine thinks)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # the whole group has exited already
            pass
        self.proc.wait()

    def close(self) -> None:
        """Ask the engine to quit, then make sure it has exited and been reaped (killed if it must be)."""
        if self.proc.poll() is None:
            quit_timeout = QUIT_SECONDS if self.timeout is None else min(self.timeout, QUIT_SECONDS)
            try:
                self._request("quit", quit_timeout)
            except GtpError:
                pass
        self._selector.close()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()  # end of input also stops an engine that ignored `quit`
            except OSError:
                pass
        try:
            self.proc.wait(timeout=QUIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
        else:  # what it left running (a wrapper's `helper &`) would keep its error output, and our reader, open
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):  # none left, or none ours to signal
                pass
        self._stderr_reader.join(timeout=1.0)  # at the end of the pipe once the engine's group has exited
        if not self._stderr_reader.is_alive():  # else a process the engine left holds it: never close under a read
            self.proc.stderr.close()

    def __enter__(self) -> GtpClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
