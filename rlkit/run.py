"""A run directory: resolved config, seeding, device, logger, checkpoints and stop signals."""

from __future__ import annotations

import dataclasses
import os
import random
import re
import signal
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from rlkit.checkpoint import (atomic_savez, atomic_torch_save, first_nonfinite, load_checkpoint, load_error_detail,
                              refuse_nonfinite)
from rlkit.config import Config, apply_overrides, config_to_dict, load_config, save_config
from rlkit.errors import DamagedState, TrainingStopped, UserError
from rlkit.logger import Logger
from rlkit.memory import keep_freed_memory
from rlkit.run_folder import (CHECKPOINT_NAME, checkpoints_of, claim_new_folder, latest_checkpoint, lock_run,
                               refuse_a_run_in, remove_new_folders, remove_stale_temporaries, trained_elsewhere)

REPLAY_NAME = re.compile(r"replay_\d+\.npz")
# Keys a resumed run cannot change, besides its agent's own `AgentConfig.FIXED_ON_RESUME`.
FIXED_ON_RESUME = ("algo", "env.id", "env.frame_stack", "env.full_action_space")


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present; 'cuda' without a GPU is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device: '{name}' asked for but no CUDA GPU is available (use auto or cpu)")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"device: unknown device '{name}'") from None
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise UserError(f"device: '{name}' asked for but this machine has {count} CUDA GPU(s) "
                        f"(cuda:0 to cuda:{count - 1})")
    return device


def refuse_a_name_not_utf8(run_dir: Path) -> None:
    """TensorBoard writes only to a folder whose name it can encode as UTF-8: a UserError for any other."""
    try:
        str(run_dir).encode("utf-8")
        return
    except UnicodeEncodeError:
        pass
    raw = os.fsencode(run_dir)
    shown = raw.decode("utf-8", "backslashreplace")  # run\xff
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{shown}: the run folder's name is not valid UTF-8; give another with --run-dir") from None
    # valid UTF-8 bytes that a locale such as LC_ALL=C with PYTHONUTF8=0 reads as ASCII
    raise UserError(f"{shown}: this locale reads file names as {sys.getfilesystemencoding()}, so TensorBoard cannot "
                    "write to a run folder whose name is not ASCII; set PYTHONUTF8=1 or a UTF-8 locale, or give "
                    "another with --run-dir")


def next_multiple(step: int, every: int) -> int:
    """The first multiple of `every` past `step`: log and checkpoint points stay on one grid, so a
    resumed run saves at the same steps as an unbroken one, whatever step each iteration ends on."""
    return (step // every + 1) * every


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch; environments get `rlkit.vec.env_seeds(seed, num_envs)` from the adapters."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Run:
    """Everything an agent's training loop needs from the core, for a new or resumed run."""

    def __init__(self, config: Config, run_dir: Path, checkpoint: dict | None = None):
        self.config = config
        self.dir = run_dir
        self.checkpoint = checkpoint  # the state to resume from, or None for a fresh run
        self.device = resolve_device(config.device)
        if config.torch_threads:
            torch.set_num_threads(config.torch_threads)
        keep_freed_memory()
        self.start_step = int(checkpoint["step"]) if checkpoint else 0
        self.stop_signal: int | None = None  # SIGINT or SIGTERM, once one asked the loop to stop
        self.second_signal: int | None = None  # one that came while stopping, and stopped the run at once
        self.logger: Logger | None = None
        # the outermost folder this run created (runs/ too, if it made that): removed again if the
        # run fails before a checkpoint
        self.new_folder: Path | None = None
        self.saved_step: int | None = None  # the step of the last checkpoint this process wrote
        self.old_event_files: set[Path] = set()  # TensorBoard files from earlier legs of the run
        self.overrides: list[str] = []  # given to --resume
        self.lock: int | None = None  # descriptor holding RUN_DIR/.lock while this process trains
        self.lock_created = False  # this process made the .lock file (a discarded start removes it)
        self.checkpoint_path: Path | None = None  # the file `checkpoint` came from
        self.fallback = ""  # "; to resume from step_M.pt instead, move ...": how past a damaged checkpoint

    # ---- creation -------------------------------------------------------------------
    @classmethod
    def create(cls, config: Config, run_dir: Path | None, config_path: Path) -> "Run":
        """A fresh run; refuses a folder that already holds one (nothing in it is touched)."""
        if run_dir is None:
            resolve_device(config.device)  # fail before creating anything
            run_dir, new_folder = cls._claim_default_folder(config_path)
        else:
            refuse_a_name_not_utf8(run_dir)
            refuse_a_run_in(run_dir)
            resolve_device(config.device)  # fail before creating anything
            new_folder = next((p for p in reversed((run_dir, *run_dir.parents)) if not p.exists()), None)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            lock, lock_created = lock_run(run_dir, "--run-dir")
            try:
                refuse_a_run_in(run_dir, locked=True)  # another process may have made one here since the check above
                remove_stale_temporaries(run_dir, "--run-dir")  # of a start killed while writing its config.yaml
                save_config(config, run_dir / "config.yaml")
            except BaseException:
                os.close(lock)
                raise
        except OSError as error:
            remove_new_folders(run_dir, new_folder)  # leave nothing behind (a full disk, say)
            raise UserError(f"--run-dir {run_dir}: cannot write a run there ({error.strerror})") from None
        run = cls(config, run_dir)
        run.new_folder, run.lock, run.lock_created = new_folder, lock, lock_created
        return run

    @staticmethod
    def _claim_default_folder(config_path: Path) -> tuple[Path, Path]:
        """Make runs/CONFIG-TIMESTAMP (-2, -3, ... for another run of the config started in the same
        second). Returns it and the outermost folder made (runs/ too, if it made that)."""
        name = config_path.parent.name if config_path.name == "config.yaml" else config_path.stem  # a run's own
        runs = Path("runs")
        run_dir = runs / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        refuse_a_name_not_utf8(run_dir)
        made_runs = not runs.exists()
        try:
            run_dir = claim_new_folder(runs, run_dir.name)
        except OSError as error:
            raise UserError(f"{error.filename or run_dir}: cannot write a run there ({error.strerror}); give another "
                            "folder with --run-dir") from None
        return run_dir, runs if made_runs else run_dir

    @classmethod
    def resume(cls, run_dir: Path, overrides: list[str]) -> "Run":
        """Continue the run in `run_dir` from its newest checkpoint."""
        config_file = run_dir / "config.yaml"
        if run_dir.is_file():
            raise UserError(f"--resume {run_dir}: give the run's folder ({run_dir.parent}), not a file in it")
        if not config_file.is_file():
            raise UserError(f"--resume {run_dir}: no run there (no config.yaml)")
        path = latest_checkpoint(run_dir)
        if path is None and trained_elsewhere(run_dir):
            raise UserError(f"--resume {run_dir}: another rlkit process is training this run and has not written "
                            "its first checkpoint yet; wait for it to stop")
        if path is None:
            raise UserError(f"--resume {run_dir}: the run has no checkpoint yet (one that stopped before its "
                            "first has nothing to continue: train it again in a new --run-dir)")
        saved = load_config(config_file)
        given: dict = {}
        apply_overrides(given, overrides)  # the algo is checked first: another algo has other agent keys
        if given.get("algo", saved.algo) != saved.algo:
            raise UserError(f"--resume {run_dir}: algo cannot change on resume (the run is {saved.algo}); "
                            "start a new run for another algo")
        config = load_config(config_file, overrides)
        older = checkpoints_of(run_dir)[:-1]
        # a damaged newest file: say how to fall back to the one before it
        fallback = (f"; to resume from {older[-1].name} instead, move {path.name} out of {path.parent}"
                    if older else "")
        try:
            checkpoint = load_checkpoint(path)
        except UserError as error:
            raise UserError(f"{error}{fallback}") from None
        if not isinstance(checkpoint, dict) or type(checkpoint.get("step")) is not int or checkpoint["step"] < 0:
            raise UserError(f"{path}: not an rlkit checkpoint (it holds no step count){fallback}")
        step = checkpoint["step"]
        named = int(CHECKPOINT_NAME.search(path.name).group(1))
        if step != named:  # a renamed or copied file: its saves would overwrite the run's own checkpoints
            raise UserError(f"{path}: holds step {step:,}, not the step {named:,} its name says (a renamed or copied "
                            f"file){fallback}")
        refuse_nonfinite(checkpoint, path, fallback)
        # Checked against the config the checkpoint holds, so an edit of config.yaml cannot slip past.
        trained = checkpoint.get("config") if isinstance(checkpoint.get("config"), dict) else {}
        for key in (*FIXED_ON_RESUME, *(f"agent.{name}" for name in type(saved.agent).FIXED_ON_RESUME)):
            old, new = _dotted(trained, key, default=_dotted(saved, key)), _dotted(config, key)
            if new != old:
                raise UserError(f"--resume {run_dir}: {key} cannot change on resume (the checkpoint was "
                                f"trained with {key}={old}); start a new run for {key}={new}")
        # a finished run can stand a little past its budget (PPO steps whole rollouts): only a lowered one is refused
        trained_total = _dotted(trained, "train.total_steps", default=saved.train.total_steps)
        if config.train.total_steps < step and config.train.total_steps != trained_total:
            raise UserError(f"--resume {run_dir}: train.total_steps={config.train.total_steps} is below the "
                            f"run's step {step}; give a larger value to extend the run")
        lock, lock_created = lock_run(run_dir, "--resume")
        if latest_checkpoint(run_dir) != path:  # a process that held the run until now saved a newer one
            os.close(lock)
            raise UserError(f"--resume {run_dir}: a newer checkpoint appeared while this one loaded; resume again")
        remove_stale_temporaries(run_dir)
        run = cls(config, run_dir, checkpoint)
        run.checkpoint_path, run.lock, run.lock_created, run.fallback = path, lock, lock_created, fallback
        # e.g. train.total_steps=... to extend a run; config.yaml takes them with the next checkpoint
        # (see save), so an override that does not fit the checkpoint leaves the run as it was
        run.overrides = list(overrides)
        return run

    @contextmanager
    def restoring(self) -> Iterator[None]:
        """Wrap the agent's restore from `checkpoint`: a state that does not fit the (overridden)
        config becomes a one-line UserError instead of a traceback."""
        try:
            yield
        except KeyError as error:  # a part the agent saves is missing: another agent's file, or none of ours
            name = self.checkpoint_path.name if self.checkpoint_path else "the checkpoint"
            raise UserError(f"--resume {self.dir}: {name} has no {error} part, so it is not a checkpoint "
                            f"of this {self.config.algo} run") from None
        except DamagedState as error:  # the file is at fault, so no override would help
            raise UserError(f"{self.checkpoint_path}: {error} (a damaged or edited file){self.fallback}") from None
        except (RuntimeError, ValueError, TypeError, AttributeError) as error:  # wrong shapes, or not a state at all
            detail = load_error_detail(error)
            given = f" with {' '.join(self.overrides)}" if self.overrides else ""
            raise UserError(f"--resume {self.dir}: the checkpoint does not fit this config{given} ({detail}); "
                            "leave out overrides that change the network or the replay") from None

    # ---- lifetime -------------------------------------------------------------------
    @property
    def stop_requested(self) -> bool:
        """SIGINT or SIGTERM arrived: the loop should checkpoint and return."""
        return self.stop_signal is not None

    def start(self) -> Logger:
        """Seed, open the logger, and catch SIGINT/SIGTERM so the loop can checkpoint and exit."""
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        seed_everything(self.config.seed)
        self.old_event_files = set(self.dir.glob("events.out.tfevents.*"))
        try:
            where = f"{self.dir} on {self.device.type}"
            if self.device.type == "cpu":  # results depend on it: `torch_threads: 0` is one per core, so it varies
                threads = torch.get_num_threads()
                where += f" ({threads} thread{'s' if threads > 1 else ''})"
            heading = (f"training {where}, to step {self.config.train.total_steps:,}" if self.checkpoint is None else
                       f"resuming {where} at step {self.start_step:,}, to step {self.config.train.total_steps:,}")
            self.logger = Logger(self.dir, self.config.train.total_steps, self.start_step,
                                 show_progress=self.config.train.progress_bar, heading=heading)
        except OSError as error:  # a full disk, say: nothing is trained yet, so leave the run as it was
            self._remove_added_event_files()
            fresh = self.checkpoint is None
            if fresh:
                self.finish(discard=True)  # leave no folder that would block the next try
            raise TrainingStopped(f"{self.dir}: cannot write the TensorBoard log ({error.strerror or error}); "
                                  f"nothing was trained and {'nothing was kept' if fresh else 'the run is as it was'}"
                                  ) from None
        if self.checkpoint is None:
            self.logger.hyperparameters(config_to_dict(self.config))
        elif self.overrides:
            self.logger.resumed(self.overrides, self.start_step)
        return self.logger

    def completed(self) -> bool:
        """The newest checkpoint has reached train.total_steps (so a signal that came during the
        final save stopped nothing)."""
        path = latest_checkpoint(self.dir)
        return path is not None and int(CHECKPOINT_NAME.search(path.name).group(1)) >= self.config.train.total_steps

    def _request_stop(self, signum: int, frame: object) -> None:
        if self.stop_requested:  # a second Ctrl-C (or SIGTERM): stop now
            self.second_signal = signum
            raise KeyboardInterrupt
        self.stop_signal = signum
        # at once, as a PPO update can run a minute on a CPU; os.write: no reentrant call into a
        # stderr buffer the progress bar may be writing to
        try:
            os.write(2, b"\nstopping: a checkpoint is written when the current step or update ends "
                        b"(a second Ctrl-C or SIGTERM stops at once, without it)\n")
        except OSError:  # a stderr whose reader went away: the checkpoint matters, not the note
            pass

    def finish(self, discard: bool = False) -> None:
        """Close the logger and restore default signal handling. `discard` (bad input found while
        setting up) undoes what this process wrote, unless it wrote a checkpoint: a folder it
        created goes; otherwise the config.yaml of a fresh run and the TensorBoard file it added."""
        if self.logger:
            try:
                self.logger.close()
            except OSError:  # a full disk: the caller reports the error that stopped the run
                pass
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if self.lock is not None:
            os.close(self.lock)
            self.lock = None
        if not discard or self.saved_step is not None:
            return
        if self.new_folder:
            remove_new_folders(self.dir, self.new_folder)
            return
        if self.checkpoint is None:  # a fresh run in a folder that was there (create refuses one holding a run)
            (self.dir / "config.yaml").unlink(missing_ok=True)
        if self.lock_created:
            (self.dir / ".lock").unlink(missing_ok=True)
        if self.logger:
            self._remove_added_event_files()

    def _remove_added_event_files(self) -> None:
        """Delete the TensorBoard files this process added (those from before start() are the run's own)."""
        for added in set(self.dir.glob("events.out.tfevents.*")) - self.old_event_files:
            added.unlink(missing_ok=True)

    # ---- checkpoints ----------------------------------------------------------------
    def check_finite(self, step: int, state: object) -> None:
        """Raise TrainingStopped if a floating tensor in `state` (a state dict, nested or not) holds
        NaN or infinity. PPO calls it after every update, DQN at every log point; `save` calls it before
        writing, so no checkpoint holds weights that are not finite."""
        name = first_nonfinite(state)
        if name is None:
            return
        newest = latest_checkpoint(self.dir)
        kept = f"{newest.name} keeps the last finite weights" if newest else "no checkpoint had been written"
        raise TrainingStopped(f"{self.dir}: training diverged by step {step:,} ({name} is not finite) and stopped "
                               f"without saving; {kept}. A lower agent.lr or agent.max_grad_norm may help")

    def save(self, step: int, state: dict, replay: dict[str, np.ndarray] | None = None) -> Path:
        """Write checkpoints/step_N.pt (and replay_N.npz) atomically; keep the newest few. A step
        saved already (a periodic checkpoint that fell on the last step, or the one a resume without
        overrides started from, when it stops before training a step: GiBs of replay on Atari) is not
        written again; a resume's overrides are saved, so they reach config.yaml."""
        folder = self.dir / "checkpoints"
        path = folder / f"step_{step:012d}.pt"
        if step == self.saved_step or (self.checkpoint is not None and step == self.start_step and not self.overrides):
            return path
        self.check_finite(step, state)
        state = {**state, "step": step, "config": config_to_dict(self.config)}
        written: list[Path] = []
        try:
            if replay is not None:
                written.append(folder / f"replay_{step:012d}.npz")
                atomic_savez(written[-1], replay)
                state["replay_file"] = written[-1].name
            written.append(path)
            atomic_torch_save(state, path)
            # then the config this checkpoint was trained under: a failed save leaves config.yaml as it was
            save_config(self.config, self.dir / "config.yaml")
        except OSError as error:  # a full disk, say: each write is atomic, so what was saved stays whole
            for done in written:  # and config.yaml stays the config of the newest checkpoint (a resume reads it)
                done.unlink(missing_ok=True)
            raise TrainingStopped(f"{path}: cannot write the checkpoint ({error.strerror or error}), so training "
                                  f"stopped; {self.newest_checkpoint_note()}") from None
        self.saved_step = step
        checkpoints, keep = checkpoints_of(self.dir), self.config.train.keep_checkpoints
        for stale in checkpoints[:-keep]:
            stale.unlink(missing_ok=True)
        kept = {p.name.replace("step_", "replay_").replace(".pt", ".npz") for p in checkpoints[-keep:]}
        for replay_file in folder.glob("replay_*.npz"):  # also those a crash left without their checkpoint
            if replay_file.name not in kept:
                replay_file.unlink(missing_ok=True)
        return path

    def newest_checkpoint_note(self) -> str:
        """'step_N.pt is the newest checkpoint', for a message about a run that stopped."""
        newest = latest_checkpoint(self.dir)
        return f"{newest.name} is the newest checkpoint" if newest else "no checkpoint had been written"

    def load_replay(self) -> dict[str, np.ndarray] | None:
        """The replay arrays saved with the resumed checkpoint, if any. Resuming with
        `train.save_replay=false` leaves them unread (the buffer refills instead): the way past a
        replay file that was lost or damaged."""
        if not self.checkpoint or "replay_file" not in self.checkpoint or not self.config.train.save_replay:
            return None
        name = self.checkpoint["replay_file"]
        if not isinstance(name, str) or not REPLAY_NAME.fullmatch(name):  # never a path out of the run
            raise UserError(f"{self.checkpoint_path}: not an rlkit checkpoint (its replay_file is {name!r})")
        path = self.dir / "checkpoints" / name
        try:
            with zipfile.ZipFile(path) as archive:  # save writes them uncompressed (np.savez), so memory stays its size
                packed = [info.filename for info in archive.infolist() if info.compress_type != zipfile.ZIP_STORED]
            if not packed:
                with np.load(path, allow_pickle=False) as data:
                    return {key: data[key] for key in data.files}
        except Exception as error:  # missing, truncated or foreign: np.load raises many kinds
            reason = "no such file" if isinstance(error, FileNotFoundError) else type(error).__name__
            raise UserError(f"--resume {self.dir}: cannot read the saved replay {path.name} ({reason}); "
                            "resume with train.save_replay=false to refill the buffer instead") from None
        raise UserError(f"--resume {self.dir}: the saved replay {path.name} holds compressed arrays ({packed[0]}, "
                        "which could expand to any size), not a replay rlkit saved; resume with "
                        "train.save_replay=false to refill the buffer instead")


def _dotted(node: object, key: str, default: object = None) -> object:
    """The value of a dotted key such as 'agent.hidden' in a Config or in nested plain data;
    `default` where plain data lacks it."""
    for part in key.split("."):
        if isinstance(node, dict):
            if part not in node:
                return default
            node = node[part]
        elif dataclasses.is_dataclass(node):
            node = getattr(node, part)
        else:  # plain data whose section is not a mapping (a damaged checkpoint's config): as if absent
            return default
    return node
