"""A run folder on disk: its lock, its checkpoints by step, what a fresh run refuses to go into,
and the clean-up of what a killed or failed start left there."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import time
from pathlib import Path

from rlkit.errors import UserError

CHECKPOINT_NAME = re.compile(r"step_(\d+)\.pt$")


def lock_run(run_dir: Path, flag: str) -> tuple[int, bool]:
    """Hold an advisory lock on RUN_DIR/.lock until this process closes the returned descriptor
    (or exits): two processes training one run would interleave its checkpoints and curves.
    Returns the descriptor and whether this call created the file."""
    path = run_dir / ".lock"
    while True:
        created = not path.exists()
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:  # a read-only folder, say
            raise UserError(f"{flag} {run_dir}: cannot write to the run folder ({error.strerror})") from None
        if not _lock_within_a_moment(fd):
            os.close(fd)
            raise UserError(f"{flag} {run_dir}: another rlkit process is training this run; "
                            "wait for it to stop, or stop it (Ctrl-C saves a checkpoint)")
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd, created
        except FileNotFoundError:
            pass
        # A discarded start removed the file between our open and our lock: a lock on the removed
        # file would not exclude a process that locks the new one, so lock the file there now.
        os.close(fd)


def _lock_within_a_moment(fd: int, tries: int = 5) -> bool:
    """An exclusive lock on `fd`, tried for about 0.1 s: trained_elsewhere's probe (another process
    starting) holds a shared one for microseconds, and must not pass for a run in training."""
    for attempt in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt < tries - 1:
                time.sleep(0.02)
    return False


def trained_elsewhere(run_dir: Path) -> bool:
    """Another process holds RUN_DIR/.lock: it is training the run now (see lock_run)."""
    try:
        fd = os.open(run_dir / ".lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # released by the close below
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def refuse_a_run_in(run_dir: Path, locked: bool = False) -> None:
    """A fresh run never goes into a folder that holds one (or the checkpoints of one).
    `locked`: this process holds the run's lock, so no other is training there."""
    if not (run_dir / "config.yaml").exists():
        if checkpoints_of(run_dir):  # its config.yaml was lost: a fresh run would prune them as its own
            raise UserError(f"--run-dir {run_dir}: holds the checkpoints of a run (but no config.yaml); "
                            "choose another --run-dir")
        # `--run-dir runs` once wrote a run among the others (and TensorBoard then showed it twice)
        held = sorted(p.name for p in run_dir.iterdir() if not left_by_a_start(p.name)) if run_dir.is_dir() else []
        if held:
            more = f" and {len(held) - 1} more" if len(held) > 1 else ""
            raise UserError(f"--run-dir {run_dir}: the folder is not empty (it holds {held[0]}{more}); a run needs a "
                            f"folder of its own, such as --run-dir {run_dir / 'NAME'}")
        return
    if not locked and trained_elsewhere(run_dir):
        raise UserError(f"--run-dir {run_dir}: another rlkit process is training a run there; choose another "
                        "--run-dir")
    if latest_checkpoint(run_dir) is None:
        raise UserError(f"--run-dir {run_dir}: already holds a run, with no checkpoint yet (one that stopped "
                        "before its first has nothing to continue: remove the folder or choose another --run-dir)")
    raise UserError(f"--run-dir {run_dir}: already holds a run (continue it with --resume {run_dir})")


def left_by_a_start(name: str) -> bool:
    """A file a fresh start leaves when it is discarded or killed: its lock, a half-written config."""
    return name == ".lock" or (name.startswith(".config.yaml.") and name.endswith(".tmp"))


def remove_stale_temporaries(run_dir: Path, option: str = "--resume") -> None:
    """Delete the temporary files of writes a killed process left unfinished (a replay's can be GBs).
    Called with the run's lock held, so no other process is writing them; `option` is named in errors."""
    for pattern in ("checkpoints/.step_*.tmp", "checkpoints/.replay_*.tmp", ".config.yaml.*.tmp"):
        for stale in run_dir.glob(pattern):
            try:
                stale.unlink(missing_ok=True)
            except OSError as error:  # a read-only folder: the run could not save its checkpoints either
                raise UserError(f"{option} {run_dir}: cannot write to the run folder ({error.strerror})") from None


def checkpoints_of(run_dir: Path) -> list[Path]:
    """RUN_DIR/checkpoints/step_N.pt files, oldest step first; other files there are not counted."""
    found = [(int(m.group(1)), p) for p in (run_dir / "checkpoints").glob("step_*.pt")
             if (m := CHECKPOINT_NAME.fullmatch(p.name))]
    return [path for _, path in sorted(found)]


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint with the highest step in RUN_DIR/checkpoints, or None."""
    found = checkpoints_of(run_dir)
    return found[-1] if found else None


def claim_new_folder(parent: Path, name: str) -> Path:
    """Make PARENT/NAME, or NAME-2, NAME-3, ... past those another process took (two starts in the same
    second): mkdir claims a name atomically. A PARENT that cannot hold it (read-only, a file, a link to
    nowhere) raises OSError at once: only a taken name is retried."""
    parent.mkdir(parents=True, exist_ok=True)
    number = 1
    while True:
        folder = parent / (name if number == 1 else f"{name}-{number}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            number += 1


def remove_new_folders(run_dir: Path, new_folder: Path | None) -> None:
    """Delete `run_dir`, then the folders above it up to `new_folder` (the outermost one this run
    created) while they are empty: other runs started in them since (a sweep) stay."""
    if new_folder is None:
        return
    shutil.rmtree(run_dir, ignore_errors=True)
    for parent in run_dir.parents:
        if new_folder != parent and new_folder not in parent.parents:
            break
        try:
            parent.rmdir()
        except OSError:  # holds another run now
            break
