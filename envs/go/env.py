"""Two-player Go self-play as a vector environment (the contract in rlkit/vec.py).

Observation (2H+1, N, N) float32, from the view of the player to move (H = history):
  plane 2k     the mover's stones k moves ago (k = 0 is now)
  plane 2k+1   the opponent's stones k moves ago (zeros before the game began)
  plane 2H     all ones if Black is to move, all zeros if White is
Actions: Discrete(N*N + 1); a = row * N + col with row 0 the top line (GTP row N); N*N is pass.
A game ends after two passes in a row, or at `max_moves` (default 2*N*N, as OpenSpiel) where it
is scored as it stands. Scoring is Tromp-Taylor area with komi. The reward goes to the player who
just moved: +1 if that player won, -1 if lost, 0 for a draw and for every move before the end.
Finished games restart in the same step (`reset`), with their last observation in `final_obs`.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from rlkit.vec import VecStep

from .batch import GoBatch


class GoVecEnv:
    """`num_envs` Go games stepped by one compiled call per step; illegal actions raise ValueError."""

    def __init__(self, num_envs: int, size: int, komi: float = 7.5, history: int = 8,
                 max_moves: int | None = None, seed: int = 0):
        if history < 1:
            raise ValueError("history must be at least 1 (the current board)")
        self.num_envs, self.size, self.seed = num_envs, size, seed
        self.frame_stack = 1  # the history planes are two per position, not one frame per step
        self.games = GoBatch(num_envs, size, komi, history, max_moves)
        self.single_observation_space = gym.spaces.Box(0.0, 1.0, (2 * history + 1, size, size), np.float32)
        self.single_action_space = gym.spaces.Discrete(size * size + 1)
        self._mover: np.ndarray | None = None

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Every game back to the empty board, Black to move. Go has no chance: the seed is only recorded."""
        self.seed = self.seed if seed is None else seed
        self.games.reset()
        self._mover = None
        return self.games.observe()

    def send(self, actions: np.ndarray) -> None:
        """Each game's player to move plays its action; ValueError (nothing played) if any is illegal."""
        mover = self.games.to_play()
        self.games.play(np.asarray(actions))
        self._mover = mover

    def recv(self) -> VecStep:
        """Rewards for games that just ended, restart them, and return the step."""
        if self._mover is None:
            raise RuntimeError("recv() without a send()")
        mover, self._mover = self._mover, None
        done = self.games.done()
        reward = np.zeros(self.num_envs, np.float32)
        final_obs = np.zeros((self.num_envs, *self.single_observation_space.shape), np.float32)
        returns: list[float] = []
        lengths: list[int] = []
        if done.any():
            black_wins = np.sign(self.games.scores())  # +1 black won, -1 white won, 0 draw
            reward[done] = np.where(mover == 1, black_wins, -black_wins)[done]
            final_obs[done] = self.games.observe()[done]
            returns = black_wins[done].astype(float).tolist()  # result from Black's view
            lengths = self.games.moves()[done].tolist()
            self.games.reset(done)
        return VecStep(obs=self.games.observe(), reward=reward, terminated=done.copy(),
                       truncated=np.zeros(self.num_envs, bool), reset=done.copy(), final_obs=final_obs,
                       episode_returns=returns, episode_lengths=lengths)

    def legal_mask(self) -> np.ndarray:
        """(num_envs, N*N+1) bool legal actions of each game's player to move."""
        return self.games.legal_mask()

    def to_play(self) -> np.ndarray:
        """(num_envs,) colour to move: 1 black, 2 white."""
        return self.games.to_play()

    def close(self) -> None:
        """Nothing to release: no threads, no emulators."""


def make_go_vec(num_envs: int, size: int, komi: float = 7.5, history: int = 8, seed: int = 0) -> GoVecEnv:
    """A reset Go self-play vector environment."""
    env = GoVecEnv(num_envs, size, komi=komi, history=history, seed=seed)
    env.reset(seed)
    return env
