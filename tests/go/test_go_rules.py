"""Rules engine on hand-built positions and against a flood-fill reference over random games."""

from __future__ import annotations

import random

import pytest

from go_helpers import Reference, from_ascii, p
from rlkit.envs.go.game import Game, IllegalMove


def test_capture_of_the_last_liberty_at_the_edge():
    game = from_ascii("""
        . . . . .
        . . . . .
        . . . . .
        . . . . .
        O X . . .
    """)
    assert game.play(p(game, "A2")) == 1
    assert game.stones(2) == []
    assert game.captures(1) == 1 and game.captures(2) == 0
    assert game.is_legal(p(game, "A1"), 2) is False  # now a one-stone suicide for White


def test_setup_with_a_dead_chain_is_rejected():
    with pytest.raises(ValueError, match="has no liberty"):
        from_ascii("""
            . . . . .
            . . . . .
            . . . . .
            X . . . .
            O X . . .
        """)


def test_multi_stone_suicide_is_illegal_but_the_same_point_captures_for_the_other_side():
    game = from_ascii("""
        . X O . .
        X X O . .
        O O O . .
        . . . . .
        . . . . .
    """)
    assert not game.is_legal(p(game, "A5"), 1)  # would leave B5 A4 B4 + A5 without liberties
    with pytest.raises(IllegalMove):
        game.play(p(game, "A5"), 1)
    assert game.play(p(game, "A5"), 2) == 3
    assert game.stones(1) == []


def test_snapback():
    game = from_ascii("""
        . . . . .
        . . . . .
        X X X . .
        O O O X .
        . . O X .
    """)
    assert game.play(p(game, "B1")) == 0  # throw-in: White's four stones now have one liberty, A1
    assert game.play(p(game, "A1")) == 1  # White captures the throw-in ...
    assert game.play(p(game, "B1")) == 5  # ... and Black takes all five back at once
    assert game.stones(2) == []


KO = """
    . . . . .
    . . . . .
    . X O . .
    X O . O .
    . X O . .
"""


def test_ko_retake_is_forbidden_at_once_and_allowed_after_an_exchange_elsewhere():
    game = from_ascii(KO)
    assert game.play(p(game, "C2")) == 1
    assert not game.is_legal(p(game, "B2"))  # the retake would repeat the position
    game.play(p(game, "E5"))
    game.play(p(game, "E4"))
    assert game.play(p(game, "B2")) == 1  # a new whole-board position now


def test_positional_superko_forbids_a_retake_that_simple_ko_allows():
    game = from_ascii(KO)
    game.play(p(game, "C2"))
    game.play(game.pass_action)
    game.play(game.pass_action)
    # The last move was not the capture, so simple ko would allow B2; the board would repeat.
    assert not game.is_legal(p(game, "B2"), 2)


def test_superko_cycle_through_two_ko_captures():
    game = from_ascii(KO)
    game.play(p(game, "C2"))  # B takes
    game.play(p(game, "E5"))  # W threat
    game.play(p(game, "E4"))  # B answers
    game.play(p(game, "B2"))  # W retakes
    game.play(p(game, "E3"))  # B threat
    game.play(p(game, "E2"))  # W answers
    assert game.is_legal(p(game, "C2"))  # B retakes: new stones elsewhere make it a new board
    # After two passes the recapture at B2 would recreate the board right after W E2.
    game.play(p(game, "C2"))
    game.play(game.pass_action)
    game.play(game.pass_action)
    assert not game.is_legal(p(game, "B2"), 2)


def test_seki_shared_liberties_are_neutral():
    game = from_ascii("""
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        X X X X X X X
        X O O O O O O
        X O . X X . O
    """, komi=0.0)
    # Inner white and inner black share C1 and F1 only: whoever fills one is captured at the other.
    trial = game.copy()
    trial.play(p(game, "C1"), 1)
    assert trial.play(p(game, "F1"), 2) == 3
    # Black: 11 stones + 28 empty above the wall = 39; White: 8 stones; C1 and F1 neutral.
    assert game.score() == 39 - 8
    assert game.result() == "B+31"


def test_empty_regions_touching_both_colours_are_neutral():
    game = from_ascii("""
        . . . . .
        . . . . .
        X X X X X
        . . . . .
        O O O O O
    """, komi=0.5)
    assert game.score() == pytest.approx((5 + 10) - 5 - 0.5)
    assert game.result() == "B+9.5"


def test_empty_board_scores_minus_komi():
    game = Game(9, komi=7.5)
    assert game.score() == -7.5 and game.result() == "W+7.5"


def test_undo_and_copy_restore_exact_state():
    game = Game(9)
    for _ in range(60):
        game.play(game.random_action())
    snapshot = game.copy()
    board, caps, to_play = game.board().copy(), (game.captures(1), game.captures(2)), game.to_play
    move = game.random_action()
    game.play(move)
    game.undo()
    assert (game.board() == board).all()
    assert (game.captures(1), game.captures(2), game.to_play) == (*caps, to_play)
    assert [game.is_legal(a) for a in range(82)] == [snapshot.is_legal(a) for a in range(82)]
    snapshot.play(move)
    assert (game.board() == board).all()  # the copy shares nothing with the original


def test_games_start_and_stop_by_the_rules():
    game = Game(5)
    assert game.to_play == 1 and not game.over
    game.play(game.pass_action)
    assert game.to_play == 2 and not game.over
    game.play(6)  # a stone between two passes: they are not consecutive
    game.play(game.pass_action)
    assert not game.over
    game.play(game.pass_action)
    assert game.over
    with pytest.raises(ValueError):
        Game(4)
    with pytest.raises(ValueError):
        Game(20)


@pytest.mark.parametrize("size,games", [(5, 40), (7, 10), (9, 4)])
def test_matches_a_flood_fill_reference_over_random_games(size, games):
    """Legality (superko included), stones and captures agree with the reference after every move."""
    rng = random.Random(size)
    superko_refusals = 0
    for _ in range(games):
        game, ref = Game(size), Reference(size)
        color = 1
        for _ in range(3 * size * size):
            legal = [a for a in range(size * size) if ref.legal(a, color)]
            assert [a for a in range(size * size) if game.is_legal(a, color)] == legal
            superko_refusals += sum(ref.after(a, color) is not None for a in range(size * size)) - len(legal)
            if not legal:
                break
            a = rng.choice(legal)
            assert game.play(a, color) == ref.play(a, color)
            assert game.board().ravel().tolist() == ref.board
            color = 3 - color
    if size == 5:
        assert superko_refusals > 0  # the games really did exercise the repetition rule


@pytest.mark.parametrize("color", [0, 3, -1])
def test_only_black_and_white_play(color):
    """Colour 3 read past the engine's hash table and 'captured' empty points; 0 placed invisible stones."""
    game = Game(9)
    for call in (lambda: game.play(40, color), lambda: game.is_legal(40, color),
                 lambda: game.place_setup([(color, 40)])):
        with pytest.raises(ValueError, match="is not 1 \\(black\\) or 2 \\(white\\)"):
            call()
    with pytest.raises(ValueError):
        game.to_play = color
    assert not game.board().any() and game.moves == [] and game.to_play == 1 and game.is_legal(40)


def test_refused_setup_stones_leave_the_board_as_it_was():
    """The stones of the list placed before the refused one stayed, unrecorded, until an undo."""
    game = Game(9)
    game.place_setup([(2, 1)])
    with pytest.raises(ValueError, match="occupied"):
        game.place_setup([(1, 0), (1, 40), (1, 0)])
    assert game.setup == [(2, 1)] and game.stones(1) == [] and game.stones(2) == [1]
    game.place_setup([(1, 0), (1, 2)])
    with pytest.raises(ValueError, match="would capture"):  # it would capture White's stone
        game.place_setup([(1, 10)])
    assert game.stones(1) == [0, 2] and game.stones(2) == [1]


@pytest.mark.parametrize("max_moves", [0, -4])
def test_a_game_needs_room_for_a_move(max_moves):
    """max_moves=0 never grew (0 doubled is 0): the second move replayed the game forever."""
    with pytest.raises(ValueError, match="max_moves"):
        Game(9, max_moves=max_moves)
    game = Game(9, max_moves=1)
    for _ in range(5):
        game.play(game.random_action())
    assert len(game.moves) == 5
