"""Atomic file writes: a temporary file beside the target, then a rename, so a crash or a full disk
never leaves a half-written file where a whole one was. No heavy imports (the Go tools use it too)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_read_umask()  # read once: os.umask can only be read by setting it


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write through `write(handle)` into a temporary file beside `path`, sync it, then rename it
    over `path`. The file gets the mode a plain open() would give (mkstemp's own is 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with open(fd, "wb") as handle:  # closes fd on every way out, a failed fchmod too
            os.fchmod(handle.fileno(), _FILE_MODE)
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        folder = os.open(path.parent, os.O_RDONLY)  # make the rename itself durable
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Replace a text file (UTF-8) atomically."""
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))
