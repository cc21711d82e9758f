"""`rlkit train`: start a run from a YAML config, or resume one from its newest checkpoint."""

from __future__ import annotations

import argparse
import re
import signal
import sys
from pathlib import Path

from rlkit.config import agent_module, dotted_key, key_source, load_config
from rlkit.console import say, warn
from rlkit.errors import ArgumentParser, TrainingStopped, UserError, raise_terminated


# an error that starts with one config key (`agent.buffer_size: ...`), not yet with where its value came from
KEY_FIRST = re.compile(r"(algo|seed|device|torch_threads|(env|train|agent)\.\w+): ")


def with_source(error: UserError, config_path: Path, overrides: list[str]) -> UserError:
    """An error the agent found while setting up (`agent.buffer_size: ...`) with the file or override
    that gave the key its value in front, as load_config's errors have: bad input names its file and key."""
    if not KEY_FIRST.match(str(error)):
        return error
    key, _, detail = str(error).partition(": ")
    return UserError(f"{key_source(config_path, overrides, key)}: {detail}")


def run_dir_option(text: str) -> Path:
    """--run-dir's value: a folder name (an empty one would silently mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give a folder name")
    return Path(text)


def override_hint(argv: list[str]) -> str:
    """For an option rlkit train does not have, such as `--seed 3` (SB3's and CleanRL's spelling):
    settings are overrides, so show it as one (`seed=3`)."""
    for i, token in enumerate(argv):
        if token.startswith("--") and token.split("=")[0] not in ("--run-dir", "--resume", "--help"):
            name, has_value, value = token[2:].partition("=")
            if not has_value and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                value = argv[i + 1]
            key = dotted_key(name.replace("-", "_"))
            if key is None:
                return " (settings are KEY=VALUE overrides, such as agent.lr=1e-4)"
            return f" (settings are KEY=VALUE overrides: {key}={value or 'VALUE'})"
    return ""


def parse_args(argv: list[str]) -> argparse.Namespace:
    """`rlkit train`'s arguments; with --resume every positional is an override."""
    parser = ArgumentParser(
        prog="rlkit train",
        description="Train an agent from a YAML config. Logs, checkpoints and the resolved "
                    "config go to the run directory (default runs/CONFIG-TIMESTAMP).",
        epilog="examples:\n  rlkit train configs/pong_dqn.yaml\n"
               "  rlkit train configs/pong_dqn.yaml train.total_steps=5000000 seed=3 --run-dir runs/pong-s3\n"
               "  rlkit train --resume runs/pong-s3",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", nargs="?", help="YAML config file (omit with --resume)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="dotted overrides, type-checked like the file (agent.lr=1e-4)")
    parser.add_argument("--run-dir", type=run_dir_option, help="where to write the run: a new or empty folder")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR",
                        help="continue the run in RUN_DIR from its newest checkpoint")
    try:
        args = parser.parse_intermixed_args(argv)
    except UserError as error:
        raise UserError(f"{error}{override_hint(argv)}") from None
    if args.resume is not None:
        if args.config is not None:  # with --resume every positional is an override
            if "=" not in args.config and (Path(args.config).is_file() or args.config.endswith((".yaml", ".yml"))):
                raise UserError(f"'{args.config}': --resume takes no CONFIG (the run's own config.yaml is used); "
                                "give changes as KEY=VALUE overrides")
            args.overrides = [args.config, *args.overrides]
            args.config = None
        if args.run_dir is not None:
            raise UserError("--run-dir cannot be combined with --resume (the run folder is RUN_DIR)")
    elif args.config is None:
        raise UserError("give a CONFIG file, or --resume RUN_DIR")
    elif "=" in args.config:
        raise UserError(f"'{args.config}' looks like an override; the CONFIG file comes first")
    return args


def main(argv: list[str]) -> int:
    """Entry point of `rlkit train`. Exit status 0 when the run completes, 128 + the signal's
    number (130, 143) when SIGINT or SIGTERM stopped it, 2 for bad input; a run that cannot go on
    (diverged weights, a full disk) raises TrainingStopped, which `rlkit` turns into exit status 1."""
    previous = signal.signal(signal.SIGTERM, raise_terminated)  # until Run.start installs the loop's own
    try:
        return _train(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _train(argv: list[str]) -> int:
    """Create or resume the run that `argv` asks for and train it; returns the exit status."""
    args = parse_args(argv)
    warnings: list[str] = []  # printed once the input is known to be sound: bad input stays one line
    config = None if args.resume is not None else load_config(args.config, args.overrides, warnings)
    from rlkit.envs import check_env_id  # heavy imports (torch, emulators) only for sound input
    from rlkit.run import Run, resolve_device
    from rlkit.run_folder import latest_checkpoint

    if config is None:
        run = Run.resume(args.resume, args.overrides)
        if run.start_step >= run.config.train.total_steps:
            run.finish()
            unused = f" ({' '.join(args.overrides)} changed nothing)" if args.overrides else ""
            print(f"the run is complete at step {run.start_step:,}{unused}; extend it with train.total_steps=N "
                  f"(N > {run.start_step})")
            return 0
    else:
        try:  # before a run folder exists
            check_env_id(config.env)
            resolve_device(config.device)
        except UserError as error:  # name where the value came from, as load_config does
            raise with_source(error, Path(args.config), args.overrides) from None
        for line in warnings:
            warn(line)
        run = Run.create(config, args.run_dir, Path(args.config))
    module = agent_module(run.config.algo)
    try:
        module.train(run)
    except UserError as error:
        run.finish(discard=True)  # bad input found while setting up: leave no trace
        source = Path(args.config) if args.resume is None else run.dir / "config.yaml"
        raise with_source(error, source, args.overrides) from None
    except KeyboardInterrupt:
        if run.stop_signal is None:  # Ctrl-C while setting up, before the handler: nothing trained yet
            run.finish(discard=True)
            raise
        run.finish()  # a second Ctrl-C while stopping; checkpoints are written atomically
        last = latest_checkpoint(run.dir)
        kept = (f"its last checkpoint is {last.name}" if last else
                "it has no checkpoint yet, so to start over remove it or use another --run-dir")
        print(f"rlkit train: interrupted again before the checkpoint was written; {run.dir} keeps its "
              f"config and logs, and {kept}", file=sys.stderr)
        return 128 + (run.second_signal or signal.SIGINT)
    except OSError as error:  # the system refused a write (a full disk): what was saved stays whole (atomic writes)
        run.finish()
        raise TrainingStopped(f"{run.dir}: training stopped on a system error ({error}); "
                              f"{run.newest_checkpoint_note()}") from None
    except BaseException:
        # a run that failed while setting up (an unexpected error) undoes what it wrote: a fresh one
        # leaves no folder to block its --run-dir, a resumed one no extra TensorBoard file; one that
        # began training keeps its logs for the post-mortem
        run.finish(discard=not (run.logger and run.logger.training))
        raise
    run.finish()
    if run.stop_signal is not None and not run.completed():
        say(f"stopped; checkpoint saved. Continue with: rlkit train --resume {run.dir}")  # keeps 130/143
        return 128 + run.stop_signal
    return 0
