"""Batched play, the self-play vector environment and board symmetries."""

from __future__ import annotations

import numpy as np
import pytest

from go_helpers import Reference
from rlkit.envs.go.batch import GoBatch
from rlkit.envs.go.env import GoVecEnv, make_go_vec
from rlkit.envs.go.game import Game
from rlkit.envs.go.symmetry import symmetries, transform_planes, transform_policy


@pytest.mark.parametrize("size", [5, 9])
def test_batch_matches_single_games_move_for_move(size):
    rng = np.random.default_rng(size)
    batch = GoBatch(12, size, komi=7.5, history=2, max_moves=3 * size * size)
    games = [Game(size, komi=7.5) for _ in range(12)]
    for _ in range(3 * size * size):
        mask = batch.legal_mask()
        for g, game in enumerate(games):
            assert mask[g].tolist() == [game.is_legal(a) for a in range(size * size + 1)]
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in mask])
        actions[rng.random(12) < 0.05] = size * size  # some passes
        batch.play(actions)
        for game, a in zip(games, actions):
            game.play(int(a))
        assert (batch.boards() == np.stack([g.board() for g in games])).all()
        assert batch.done().tolist() == [g.over or len(g.moves) >= 3 * size * size for g in games]
        if batch.done().any():
            break
    assert batch.scores().tolist() == [g.score() for g in games]


def test_batch_refuses_an_illegal_action_without_moving_any_game():
    batch = GoBatch(3, 5)
    batch.play(np.array([0, 1, 2]))
    before = batch.boards().copy()
    with pytest.raises(ValueError, match="game 1: action 1 is illegal"):
        batch.play(np.array([25, 1, 25]))  # point 1 is occupied in game 1
    assert (batch.boards() == before).all()


def test_a_finished_game_must_be_reset_before_playing_on():
    batch = GoBatch(2, 5)
    batch.play(np.array([25, 25]))
    batch.play(np.array([25, 25]))
    assert batch.done().all()
    with pytest.raises(ValueError, match="game 0 is over"):
        batch.play(np.array([0, 0]))
    batch.reset(np.array([True, False]))
    assert batch.done().tolist() == [False, True] and batch.moves().tolist() == [0, 2]


@pytest.mark.parametrize("games", [[2], [-1], [1000], np.ones(3, bool), [0.5]])
def test_reset_refuses_games_that_do_not_exist(games):
    """The compiled reset does not check bounds: game 1000 of 2 wrote past the arrays (a later segfault)."""
    batch = GoBatch(2, 5)
    with pytest.raises(ValueError, match="game indices must be|a mask of 2 games"):
        batch.reset(games)
    batch.reset([1])
    batch.reset(np.array([], dtype=np.int64))


def test_random_actions_are_legal():
    batch = GoBatch(32, 9)
    for _ in range(300):
        batch.reset(batch.done())
        actions = batch.random_actions(allow_pass=False, avoid_eyes=True)
        mask = batch.legal_mask()
        assert mask[np.arange(32), actions].all()
        batch.play(actions)


def test_observation_planes_follow_the_documented_layout():
    env = GoVecEnv(2, 5, history=2)
    obs = env.reset(seed=0)
    assert obs.shape == (2, 5, 5, 5) and env.single_observation_space.contains(obs[0])
    assert obs[:, :4].sum() == 0 and (obs[:, 4] == 1).all()  # empty board, Black to move
    env.send(np.array([12, 0]))  # Black plays the centre in game 0, the corner in game 1
    step = env.recv()
    o = step.obs[0]
    assert o[1, 2, 2] == 1 and o[0].sum() == 0  # White to move: Black's stone is the opponent's
    assert o[2:4].sum() == 0  # one move ago the board was empty
    assert (o[4] == 0).all()  # White to move
    env.send(np.array([6, 24]))
    o = env.recv().obs[0]
    assert o[0, 2, 2] == 1 and o[1, 1, 1] == 1  # Black to move: own centre stone, White's B4
    assert o[2, 2, 2] == 1 and o[3].sum() == 0  # one move ago: only Black's stone
    assert (o[4] == 1).all()


def test_two_passes_end_the_game_with_rewards_from_the_movers_view():
    env = make_go_vec(num_envs=2, size=5, komi=7.5, history=1)
    assert env.single_action_space.n == 26
    env.send(np.array([25, 12]))
    step = env.recv()
    assert not step.terminated.any() and (step.reward == 0).all()
    env.send(np.array([25, 25]))
    step = env.recv()
    # Game 0: two passes on an empty board, White wins by komi; White moved last: +1.
    assert step.terminated.tolist() == [True, False] and step.reset.tolist() == [True, False]
    assert step.reward.tolist() == [1.0, 0.0]
    assert step.episode_returns == [-1.0] and step.episode_lengths == [2]
    assert (step.final_obs[0, 2] == 1).all()  # Black was to move in the final position
    assert step.obs[0, :2].sum() == 0 and (step.obs[0, 2] == 1).all()  # a fresh game
    assert env.to_play().tolist() == [1, 1]
    env.send(np.array([25, 25]))
    step = env.recv()  # game 1: B centre, W pass, B pass: Black 25 - 7.5 wins, Black moved last
    assert step.terminated.tolist() == [False, True] and step.reward.tolist() == [0.0, 1.0]


def test_random_self_play_rewards_the_winner_by_an_independent_count():
    """Each finished game's reward is the sign of a flood-fill Tromp-Taylor count of its final
    board, from the view of the player who moved last; every other step pays nothing."""
    env = make_go_vec(num_envs=8, size=5, komi=0.5, history=2)
    rng = np.random.default_rng(0)
    signs = []
    for _ in range(400):
        mask = env.legal_mask()
        mask[:, -1] = mask[:, :-1].sum(1) == 0  # pass only when nothing else is legal
        env.send(np.array([rng.choice(np.flatnonzero(m)) for m in mask]))
        step = env.recv()
        assert (step.reward[~step.terminated] == 0).all()
        for i in np.flatnonzero(step.terminated):
            final = step.final_obs[i]  # planes: next mover's stones, last mover's stones, ..., colour
            next_mover = 1 if final[-1].all() else 2
            board = np.where(final[0] == 1, next_mover, np.where(final[1] == 1, 3 - next_mover, 0))
            black_lead = Reference(5, board.ravel().tolist()).area_score(komi=0.5)
            last_mover_sign = 1 if next_mover == 2 else -1  # Black moved last: Black's lead is its own
            assert step.reward[i] == np.sign(black_lead) * last_mover_sign
            signs.append(step.reward[i])
    assert len(signs) > 8 and {1.0, -1.0} <= set(signs)


def test_games_are_capped_at_max_moves():
    env = GoVecEnv(1, 9, max_moves=10)
    env.reset(0)
    for i in range(10):
        env.send(np.array([i]))
        step = env.recv()
    assert step.terminated.tolist() == [True] and step.episode_lengths == [10]


def test_illegal_actions_raise():
    env = make_go_vec(2, 5)
    env.send(np.array([0, 0]))
    env.recv()
    with pytest.raises(ValueError, match="illegal"):
        env.send(np.array([1, 0]))


def test_symmetries_map_legal_moves_to_legal_moves():
    rng = np.random.default_rng(1)
    game = Game(7)
    for _ in range(30):
        game.play(game.random_action())
    mask = np.array([game.is_legal(a) for a in range(50)])
    images = symmetries(game.board()[None].astype(np.float32), mask.astype(np.float32))
    assert len(images) == 8 and (images[0][0][0] == game.board()).all()
    assert len({im[0].tobytes() for im in images}) == 8
    for planes, policy in images:
        board = planes[0].astype(int)
        image = Game(7)
        image.place_setup([(int(board.flat[p]), p) for p in range(49) if board.flat[p]])
        image.to_play = game.to_play
        assert [image.is_legal(a) for a in range(50)] == policy.astype(bool).tolist()
    x = rng.random((3, 7, 7))
    for k in range(8):
        y = transform_planes(x, k)
        assert any(np.array_equal(transform_planes(y, j), x) for j in range(8))
    assert transform_policy(np.arange(50.0), 1)[-1] == 49.0
