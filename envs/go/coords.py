"""Point names: GTP vertices ("D4", "pass"), SGF points ("dd", "" or "tt" for pass) and colours."""

from __future__ import annotations

GTP_LETTERS = "ABCDEFGHJKLMNOPQRST"  # GTP skips I
COLOR_NAMES = {"b": 1, "black": 1, "w": 2, "white": 2}


def parse_color(text: str) -> int:
    """1 for black, 2 for white; ValueError otherwise."""
    try:
        return COLOR_NAMES[text.lower()]
    except KeyError:
        raise ValueError(f"invalid color '{text}'") from None


def color_letter(color: int) -> str:
    """'B' or 'W'."""
    return "B" if color == 1 else "W"


LARGEST_NUMBER = 10**18  # past every size, count and move number a Go command takes


def parse_number(text: str) -> int | None:
    """The value of a string of ASCII digits, else None (str.isdigit alone also takes '²', which int()
    refuses). Values past LARGEST_NUMBER read as it: int() refuses strings of over 4,300 digits."""
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0")
    return int(digits or "0") if len(digits) <= 18 else LARGEST_NUMBER


def parse_vertex(text: str, n: int) -> int:
    """GTP vertex to action (row 0 = top line, P = pass); ValueError if malformed or off the board."""
    t = text.strip().upper()
    if t == "PASS":
        return n * n
    row = parse_number(t[1:])
    if len(t) < 2 or t[0] not in GTP_LETTERS or row is None:
        raise ValueError(f"invalid vertex '{text}'")
    col = GTP_LETTERS.index(t[0])
    if col >= n or not 1 <= row <= n:
        raise ValueError(f"invalid vertex '{text}': off the {n}x{n} board")
    return (n - row) * n + col


def format_vertex(action: int, n: int) -> str:
    """Action to GTP vertex ("D4" or "pass")."""
    if action == n * n:
        return "pass"
    row, col = divmod(action, n)
    return f"{GTP_LETTERS[col]}{n - row}"


def parse_sgf_point(text: str, n: int) -> int:
    """SGF point ("dd") to action; "" and "tt" (on boards up to 19) are pass; ValueError otherwise."""
    if text == "" or (text == "tt" and n <= 19):
        return n * n
    if len(text) != 2 or not text.isalpha() or not text.islower():
        raise ValueError(f"invalid point '{text}'")
    col, row = ord(text[0]) - 97, ord(text[1]) - 97
    if col >= n or row >= n:
        raise ValueError(f"point '{text}' is off the {n}x{n} board")
    return row * n + col


def format_sgf_point(action: int, n: int) -> str:
    """Action to SGF point; pass is the empty string (FF[4])."""
    if action == n * n:
        return ""
    row, col = divmod(action, n)
    return chr(97 + col) + chr(97 + row)
