"""Shared test helpers: ASCII boards, and a slow but obviously-correct reference rules engine."""

from __future__ import annotations

from rlkit.envs.go.game import Game


def from_ascii(text: str, komi: float = 0.0, to_play: int = 1) -> Game:
    """A game whose start is the drawn board: X black, O white, . empty; first line = top."""
    rows = [r.split() for r in text.strip().splitlines()]
    n = len(rows)
    assert all(len(r) == n for r in rows), "board must be square"
    stones = [({"X": 1, "O": 2}[ch], r * n + c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch != "."]
    game = Game(n, komi=komi)
    game.place_setup(stones)
    game.first_to_play = game.to_play = to_play
    return game


def p(game: Game, vertex: str) -> int:
    """Action of a GTP vertex on this game's board."""
    from rlkit.envs.go.coords import parse_vertex

    return parse_vertex(vertex, game.size)


class Reference:
    """Flood-fill rules with a set of every position: slow, simple, the yardstick for the engine."""

    def __init__(self, n: int, board: list[int] | None = None):
        self.n = n
        self.board = list(board) if board else [0] * (n * n)
        self.seen = {tuple(self.board)}

    def neighbours(self, p: int) -> list[int]:
        r, c = divmod(p, self.n)
        return [(r + dr) * self.n + c + dc for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
                if 0 <= r + dr < self.n and 0 <= c + dc < self.n]

    def group(self, board: list[int], p: int) -> tuple[set[int], bool]:
        color, stack, chain, free = board[p], [p], {p}, False
        while stack:
            s = stack.pop()
            for q in self.neighbours(s):
                if board[q] == 0:
                    free = True
                elif board[q] == color and q not in chain:
                    chain.add(q)
                    stack.append(q)
        return chain, free

    def after(self, p: int, color: int) -> tuple[list[int], int] | None:
        """Board after the move and stones captured, or None if illegal."""
        if self.board[p] != 0:
            return None
        board = list(self.board)
        board[p] = color
        captured = 0
        for q in self.neighbours(p):
            if board[q] == 3 - color:
                chain, free = self.group(board, q)
                if not free:
                    for s in chain:
                        board[s] = 0
                    captured += len(chain)
        if not self.group(board, p)[1]:
            return None
        return board, captured

    def legal(self, p: int, color: int) -> bool:
        """Not occupied, not suicide, not a repeat of any earlier board."""
        result = self.after(p, color)
        return result is not None and tuple(result[0]) not in self.seen

    def play(self, p: int, color: int) -> int:
        board, captured = self.after(p, color)
        self.board = board
        self.seen.add(tuple(board))
        return captured

    def area_score(self, komi: float) -> float:
        """Tromp-Taylor: Black's stones and empty regions reaching only Black, minus White's, minus komi."""
        score, seen = 0.0, set()
        for p, colour in enumerate(self.board):
            if colour:
                score += 1 if colour == 1 else -1
            elif p not in seen:
                region, borders, stack = {p}, set(), [p]
                while stack:
                    for q in self.neighbours(stack.pop()):
                        if self.board[q]:
                            borders.add(self.board[q])
                        elif q not in region:
                            region.add(q)
                            stack.append(q)
                seen |= region
                if borders == {1}:
                    score += len(region)
                elif borders == {2}:
                    score -= len(region)
        return score - komi
