"""rlkit: reinforcement-learning agents for games (DQN, PPO; Atari, classic control, Go)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rlkit")  # pyproject.toml's, the one place it is written
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
