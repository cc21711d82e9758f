"""Checkpoint save/load (written atomically). Checkpoints are data: loaded with weights_only=True."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from rlkit.atomic import atomic_write
from rlkit.errors import UserError


def atomic_torch_save(obj: Any, path: Path) -> None:
    """torch.save atomically (temporary file, fsync, rename)."""

    def write(handle: BinaryIO) -> None:
        try:
            torch.save(obj, handle)
        except RuntimeError as error:  # torch's zip writer hides a failed write (a full disk) behind its own
            if isinstance(error.__context__, OSError):
                raise error.__context__ from None
            raise

    atomic_write(path, write)


def atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez (uncompressed) atomically; read back with allow_pickle=False."""
    atomic_write(path, lambda handle: np.savez(handle, **arrays))


def damaged_member(path: Path) -> str | None:
    """The first part of a zip file (torch's checkpoint format) whose bytes no longer match their CRC-32,
    which torch.load does not check: a flipped bit in the weights would load silently. None when all
    match, or when the file is no zip (torch.load then says what is wrong with it)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip()
    except Exception:  # noqa: BLE001 (not a zip, unreadable, truncated: for torch.load to name)
        return None


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint as data only (no code execution), once its parts match their checksums."""
    damaged = damaged_member(path)
    if damaged is not None:
        raise UserError(f"{path}: damaged: its bytes no longer match the checksums saved with them (in {damaged})")
    try:
        with warnings.catch_warnings():  # torch warns of a pickle protocol it refuses next: the error says it all
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{path}: no such checkpoint") from None
    except Exception as error:  # corrupt or foreign file
        raise UserError(f"{path}: not a readable rlkit checkpoint ({type(error).__name__})") from None


def load_weights(module: torch.nn.Module, state: Any, what: str) -> None:
    """`module.load_state_dict(state)`, or a one-line UserError naming `what` (the checkpoint file)
    when the saved weights do not fit the network or are not weights at all."""
    try:
        module.load_state_dict(state)
    except (KeyError, TypeError, RuntimeError, ValueError) as error:
        raise UserError(f"{what}: the saved weights do not fit the {type(module).__name__} its config "
                        f"describes ({load_error_detail(error)})") from None


def load_error_detail(error: Exception) -> str:
    """The gist of a failed `load_state_dict`, in one line: its first line only says that it failed,
    the second names the keys."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[:2])[:300] or type(error).__name__


def rng_state() -> dict:
    """Torch CPU (and CUDA) RNG states, to restore on resume."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what rng_state() saved."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        # a resume may see fewer GPUs than the save did (another node, CUDA_VISIBLE_DEVICES)
        for device, cuda_state in enumerate(state["cuda"][:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, device)


def first_nonfinite(state: object, prefix: str = "") -> str | None:
    """The dotted name of the first floating tensor holding NaN or infinity in nested dicts/lists."""
    if isinstance(state, torch.Tensor):
        return prefix if state.is_floating_point() and not bool(torch.isfinite(state).all()) else None
    items = state.items() if isinstance(state, dict) else enumerate(state) if isinstance(state, (list, tuple)) else ()
    for key, value in items:
        found = first_nonfinite(value, f"{prefix}.{key}" if prefix else str(key))
        if found is not None:
            return found
    return None


def refuse_nonfinite(checkpoint: dict, path: Path, hint: str = "") -> None:
    """UserError naming the first learner tensor of `checkpoint` (read from `path`) that holds NaN or
    infinity: training never saves one (see `Run.save`), so the file is damaged or foreign."""
    bad = first_nonfinite(checkpoint.get("learner"), "learner")
    if bad is not None:
        raise UserError(f"{path}: {bad} holds NaN or infinity, which no rlkit checkpoint does{hint}")
