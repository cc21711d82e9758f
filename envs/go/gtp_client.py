"""Drive a GTP engine in a subprocess: send a command, read its `=`/`?` reply."""

from __future__ import annotations

import shlex
import subprocess


class GtpError(RuntimeError):
    """The engine answered `? message`, or died."""


class GtpClient:
    """A GTP engine started from a shell-style command line, e.g. 'gnugo --mode gtp'."""

    def __init__(self, command: str):
        self.command = command
        try:
            self.proc = subprocess.Popen(
                shlex.split(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, text=True, bufsize=1,
            )
        except OSError as error:
            raise GtpError(f"cannot start '{command}': {error.strerror}") from None

    def send(self, command: str) -> str:
        """Send one command; returns the reply text after '= ', raises GtpError on '? ...'."""
        ok, text = self.ask(command)
        if not ok:
            raise GtpError(f"'{self.command}' answered '{command}' with: ? {text}")
        return text

    def ask(self, command: str) -> tuple[bool, str]:
        """Send one command; returns (success, reply text) without raising on '?'."""
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise GtpError(f"'{self.command}' has exited") from None
        lines = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise GtpError(f"'{self.command}' exited while answering '{command}'")
            line = line.rstrip("\r\n")
            if not line and lines:
                break
            if line or lines:
                lines.append(line)
        head = lines[0]
        if head[:1] not in "=?":
            raise GtpError(f"'{self.command}' gave a malformed reply to '{command}': {head!r}")
        text = "\n".join([head[1:].lstrip()] + lines[1:]).strip()
        return head[0] == "=", text

    def close(self) -> None:
        """Ask the engine to quit, then make sure it has."""
        if self.proc.poll() is None:
            try:
                self.ask("quit")
            except GtpError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            stream.close()

    def __enter__(self) -> GtpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
