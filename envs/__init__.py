"""Environment adapters. `make_vec(cfg)` picks one by `env.id`; adapters know no agent."""

from __future__ import annotations

from rlkit.config import EnvConfig
from rlkit.vec import VecEnv


def make_vec(cfg: EnvConfig) -> VecEnv:
    """A vector env for `cfg.id`: ALE/Name-v5 games through ale-py, anything else through gymnasium."""
    if cfg.id.startswith("ALE/"):
        from rlkit.envs.atari import AtariVec

        return AtariVec(cfg)
    from rlkit.envs.classic import ClassicVec

    return ClassicVec(cfg)


def check_env_id(cfg: EnvConfig) -> None:
    """Raise UserError for an id no adapter knows, before a run folder is created."""
    if cfg.id.startswith("ALE/"):
        from rlkit.envs.atari import rom_name

        rom_name(cfg.id)
        return
    import gymnasium as gym

    from rlkit.envs.classic import check_gymnasium_id
    from rlkit.errors import UserError

    from rlkit.envs.atari import ale_id_for  # imports ale_py, which registers old Atari ids (PongNoFrameskip-v4)

    spec = gym.registry.get(cfg.id)
    if spec is not None and "ale_py" in str(spec.entry_point) and (guess := ale_id_for(cfg.id)):
        raise UserError(f"env.id: '{cfg.id}' is an old-style Atari id (gymnasium's, with no rlkit preprocessing); "
                        f"rlkit's Atari adapter takes ALE/Name-v5 ids: did you mean {guess}?")
    try:
        check_gymnasium_id(cfg.id)
    except UserError as error:
        guess = ale_id_for(cfg.id) if spec is None else None
        if guess is None or "did you mean" in str(error):
            raise
        raise UserError(f"{error}; did you mean {guess}?") from None
