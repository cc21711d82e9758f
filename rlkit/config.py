"""Typed run configuration: YAML and dotted `key=value` overrides validated into dataclasses.

Every error names the file and the dotted key at fault and raises UserError (one line, exit 2).
Defaults live in the dataclasses only; the resolved config is written with every run.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from rlkit.atomic import atomic_write_text
from rlkit.console import warn
from rlkit.errors import UserError
from rlkit.strict_yaml import UNREADABLE_VALUE, StrictLoader, unreadable

# algo name -> module exposing `AgentConfig` (a dataclass), `train(run) -> None` and `policy(...)`
# (the trained policy, for `rlkit evaluate`)
ALGOS: dict[str, str] = {
    "dqn": "rlkit.agents.dqn",
    "ppo": "rlkit.agents.ppo",
}


INT32_MAX = 2**31 - 1
# the largest float32: a larger bound that torch clamps a float32 tensor to fails ("cannot be converted to type float")
FLOAT32_MAX = 3.4028234663852886e38
MAX_NUM_ENVS = 4096  # env.num_envs at most


def at_least(low: float) -> dict:
    """Field metadata: the value must be >= low."""
    return {"min": low}


def between(low: float, high: float) -> dict:
    """Field metadata: the value must lie in [low, high]."""
    return {"min": low, "max": high}


def at_least_below(low: float, high: float) -> dict:
    """Field metadata: the value must lie in [low, high)."""
    return {"min": low, "below": high}


def above(low: float) -> dict:
    """Field metadata: the value must be > low."""
    return {"above": low}


def above_up_to(low: float, high: float) -> dict:
    """Field metadata: the value must lie in (low, high]."""
    return {"above": low, "max": high}


@dataclass
class EnvConfig:
    """Which game and how it is preprocessed; adapters read only the keys they know."""

    id: str = "CartPole-v1"
    # a bound that catches a slip (1e8 envs took minutes to build before failing); EnvPool-scale runs use hundreds
    num_envs: int = field(default=1, metadata=between(1, MAX_NUM_ENVS))
    num_threads: int = field(default=0, metadata=between(0, 1024))  # emulator threads; 0 = one per core, at most one per env
    # Atari preprocessing (standard DQN protocol: Mnih et al. 2015, Machado et al. 2018); the upper
    # bounds are ale-py's 32-bit integers (a larger value failed inside its constructor)
    frame_stack: int = field(default=4, metadata=between(1, 64))
    frame_skip: int = field(default=4, metadata=between(1, INT32_MAX))
    noop_max: int = field(default=30, metadata=between(0, INT32_MAX))
    # 1.0 would repeat the first action forever: the agent's actions would never reach the game
    sticky_actions: float = field(default=0.0, metadata=at_least_below(0.0, 1.0))
    full_action_space: bool = False  # all 18 joystick actions (Machado et al.), not the game's minimal set
    terminal_on_life_loss: bool = True
    clip_rewards: bool = True
    max_episode_frames: int = field(default=108_000, metadata=between(1, INT32_MAX))


@dataclass
class TrainConfig:
    """How long to train and how often to save and log."""

    total_steps: int = field(default=100_000, metadata=at_least(1))  # env steps over all envs
    checkpoint_every: int = field(default=100_000, metadata=at_least(1))
    keep_checkpoints: int = field(default=3, metadata=at_least(1))  # the newest N stay, with their replays
    save_replay: bool = False
    log_every: int = field(default=1_000, metadata=at_least(1))
    progress_bar: bool = True


@dataclass
class Config:
    """A whole run. `agent` holds the chosen algorithm's own dataclass."""

    algo: str = "dqn"
    seed: int = field(default=1, metadata=between(0, INT32_MAX))  # the emulators take 31-bit seeds
    device: str = "auto"
    torch_threads: int = field(default=0, metadata=between(0, 1024))  # 0 = torch's default
    env: EnvConfig = field(default_factory=EnvConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    agent: Any = None


def warn_unused(section: Any, name: str, keys: tuple[str, ...], why: str) -> None:
    """Warn (stderr) of each `NAME.KEY` (say agent.hidden) set away from its default that the run
    does not use, so a setting is never dropped silently."""
    for field_ in dataclasses.fields(section):
        if field_.name in keys:
            default = field_.default if field_.default is not dataclasses.MISSING else field_.default_factory()
            value = getattr(section, field_.name)
            if value != default:
                warn(f"warning: {name}.{field_.name}={value} is not used: {why}")


def warn_zero_lr(agent: Any) -> None:
    """Warn (stderr) of agent.lr=0, which is accepted (as SB3 does) but trains nothing."""
    if agent.lr == 0:
        warn("warning: agent.lr=0: the weights will never change; this run only collects experience")


def dotted_key(name: str) -> str | None:
    """The config key a bare `name` stands for (`total_steps` -> `train.total_steps`), outside the
    agent's own section (which depends on the algo); None when there is none."""
    for section, cls in (("", Config), ("env.", EnvConfig), ("train.", TrainConfig)):
        if name in {f.name for f in dataclasses.fields(cls)} - {"env", "train", "agent"}:
            return section + name
    return None


def agent_module(algo: str, where: str = "algo") -> types.ModuleType:
    """Import the agent package registered under `algo`."""
    if algo not in ALGOS:
        raise UserError(f"{where}: unknown algo '{algo}' (choose from {', '.join(ALGOS)})")
    return importlib.import_module(ALGOS[algo])


def load_config(path: str | Path, overrides: Sequence[str] = (), warnings: list[str] | None = None) -> Config:
    """Read a YAML file, apply `key=value` overrides, validate, and return a Config. Warnings about
    the overrides go to stderr once the config is sound, or into `warnings` for the caller to print
    after checks of its own."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: a folder, not a config file (the configs are YAML files such as configs/pong_dqn.yaml)")
    if not path.is_file():
        raise UserError(f"{path}: no such config file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"{path}: cannot read the config file ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: not UTF-8 text (byte {error.start}); save the config as UTF-8") from None
    try:
        data = yaml.load(text, Loader=StrictLoader)
    except RecursionError:
        raise UserError(f"{path}: malformed YAML: nested too deeply") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        problem = str(getattr(error, "problem", None) or error).splitlines()[0]  # some span lines
        raise UserError(f"{path}: malformed YAML{where}: {problem}") from None
    except UNREADABLE_VALUE as error:
        raise UserError(f"{path}: malformed YAML: {unreadable(error)}") from None
    if data is None:
        raise UserError(f"{path}: the file is empty")
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of keys at the top level")
    found: list[str] = []
    origins = apply_overrides(data, overrides, found)
    config = config_from_dict(data, source=str(path), origins=origins)
    if warnings is None:
        for line in found:  # once the config is sound: bad input stays one line
            warn(line)
    else:
        warnings += found
    return config


def apply_overrides(data: dict, overrides: Sequence[str], warnings: list[str] | None = None) -> dict[str, str]:
    """Set dotted keys (`agent.lr=1e-4`) in a nested dict; values are parsed as YAML scalars.
    Returns {dotted key: the override that set it}, so errors can blame the command line.
    `warnings` collects a line for each section an override replaced that had other keys."""
    origins = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        parts = key.split(".")
        if not sep or not all(parts):
            raise UserError(f"override '{item}': expected KEY=VALUE with a dotted KEY, e.g. agent.lr=1e-4")
        node = data
        for part in parts[:-1]:
            if node.get(part) is None:  # absent, or an empty section (`agent:` with nothing under it)
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise UserError(f"override '{item}': '{part}' is not a section")
        try:
            value = yaml.load(text, Loader=StrictLoader) if text else ""
        except (yaml.YAMLError, RecursionError):
            raise UserError(f"override '{item}': the value is not valid YAML") from None
        except UNREADABLE_VALUE as error:
            raise UserError(f"override '{item}': the value is not valid YAML: {unreadable(error)}") from None
        replaced = node.get(parts[-1])
        dropped = [str(k) for k in replaced if k not in value] if isinstance(value, dict) and isinstance(replaced, dict) else []
        if dropped and warnings is not None:
            back = "goes back to its default" if len(dropped) == 1 else "go back to their defaults"
            warnings.append(f"warning: override '{item}' replaces the whole {key} section, so {', '.join(dropped)} "
                            f"{back}; give {key}.KEY=VALUE to change one key")
        node[parts[-1]] = value
        origins[key] = item
    return origins


def _where(key: str, source: str, origins: dict[str, str]) -> str:
    """'FILE: key', or "override 'KEY=VALUE' (applied to FILE): key" when an override set the key."""
    parts = key.split(".")
    for end in range(len(parts), 0, -1):  # the key itself, or a section an override replaced
        given = origins.get(".".join(parts[:end]))
        if given:
            return f"override '{given}' (applied to {source}): {key}"
    inside = [given for dotted, given in origins.items() if dotted.startswith(key + ".")]
    if inside:  # an override that made this section (foo.bar=1 makes an unknown `foo`)
        return f"override '{inside[0]}' (applied to {source}): {key}"
    return f"{source}: {key}"


def key_source(path: str | Path, overrides: list[str], key: str) -> str:
    """Where `key` of the config loaded from `path` with `overrides` got its value, for an error
    found after loading (an unknown game id, a device this machine lacks)."""
    return _where(key, str(path), apply_overrides({}, overrides))


def config_from_dict(data: dict, source: str, origins: dict[str, str] | None = None) -> Config:
    """Validate a nested dict into a Config. Errors name `source` (the file) and the key, or the
    override that set the key when `origins` ({dotted key: override}) has it."""
    def where(key: str) -> str:
        return _where(key, source, origins or {})

    data = dict(data)
    algo = data.get("algo", Config.algo)
    if not isinstance(algo, str):
        raise UserError(f"{where('algo')}: expected a string, got {algo!r}")
    module = agent_module(algo, where=where("algo"))
    agent_data = data.pop("agent", None)
    if agent_data is None:  # `agent:` left empty or out: the algorithm's defaults
        agent_data = {}
    config = _build(Config, data, where, prefix="")
    try:
        config.agent = _build(module.AgentConfig, agent_data, where, prefix="agent.")
    except UserError as error:
        if "algo" not in (origins or {}):
            raise
        # the file's agent section was written for the file's algo, not for the one an override chose
        raise UserError(f"{error} (the override '{origins['algo']}' chose {algo}'s agent keys)") from None
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", config.device):
        raise UserError(f"{where('device')}: unknown device '{config.device}' (auto, cpu, cuda, cuda:N)")
    return config


def config_to_dict(config: Config) -> dict:
    """The resolved config as plain data, for RUN_DIR/config.yaml and checkpoints."""
    return dataclasses.asdict(config)


def save_config(config: Config, path: Path) -> None:
    """Write the resolved config atomically."""
    atomic_write_text(path, yaml.safe_dump(config_to_dict(config), sort_keys=False))


def _build(cls: type, data: Any, where: Callable[[str], str], prefix: str) -> Any:
    """Construct dataclass `cls` from a dict, checking unknown keys, types and ranges;
    `where(dotted key)` says where a bad value came from."""
    if not isinstance(data, dict):
        raise UserError(f"{where(prefix.rstrip('.') or 'top level')}: expected a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [key for key in data if key not in fields]
    if unknown:
        raise UserError(f"{where(f'{prefix}{unknown[0]}')}: unknown key (known: {', '.join(fields)})")
    values = {}
    for name, value in data.items():
        key = prefix + name
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, where, prefix=key + ".")
            continue
        values[name] = _check_value(value, hint, where(key))
        for item in values[name] if isinstance(values[name], list) else [values[name]]:
            _check_range(item, fields[name].metadata, where(key))
    return cls(**values)


def _check_value(value: Any, hint: Any, where: str) -> Any:
    """Coerce a YAML value to the annotated type or raise UserError naming the key."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise UserError(f"{where}: expected one of {', '.join(map(str, choices))}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _check_value(value, inner, where)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"{where}: expected true or false, got {value!r}")
    if hint is int:
        number = _as_number(value)
        if isinstance(number, int) or (isinstance(number, float) and number.is_integer()):
            return int(number)  # ranges are checked next; no float() of a huge int here
        raise UserError(f"{where}: expected an integer, got {value!r}")
    if hint is float:
        number = _as_number(value)
        if number is not None and abs(number) <= sys.float_info.max:  # finite, and an int that fits
            return float(number)
        raise UserError(f"{where}: expected a finite number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise UserError(f"{where}: expected a string, got {value!r}")
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise UserError(f"{where}: expected a list, got {value!r}")
        (inner,) = typing.get_args(hint)[:1]
        return [_check_value(v, inner, where) for v in value]
    return value


def _as_number(value: Any) -> float | int | None:
    """Numbers, and strings like '1e-4' that YAML 1.1 leaves unparsed; never booleans."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        for parse in (int, float):  # int first: a float() of a 20-digit count loses its last digits
            try:
                return parse(value)
            except ValueError:
                pass
    return None


def _check_range(value: Any, metadata: Any, where: str) -> None:
    """Apply `at_least` / `between` / `at_least_below` / `above_up_to` field metadata."""
    low, high, above, below = metadata.get("min"), metadata.get("max"), metadata.get("above"), metadata.get("below")
    if low is not None and value < low:
        raise UserError(f"{where}: must be >= {low}, got {value}")
    if above is not None and value <= above:
        raise UserError(f"{where}: must be > {above}, got {value}")
    if high is not None and value > high:
        raise UserError(f"{where}: must be <= {high}, got {value}")
    if below is not None and value >= below:
        raise UserError(f"{where}: must be < {below}, got {value}")
