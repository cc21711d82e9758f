"""SGF FF[4] game records: write finished games (atomically) and read the main line back.

Reading keeps the first variation at every branch, takes board size, komi, setup stones
(AB/AW/AE and PL in the root node) and the B/W moves; a file that is not UTF-8 is read in the
charset its CA names (else Latin-1); malformed input raises SgfError naming the file, line and column.
"""

from __future__ import annotations

import codecs
import datetime
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from rlkit import __version__
from rlkit.atomic import atomic_write_text
from rlkit.errors import one_line

from .coords import color_letter, format_sgf_point, parse_number, parse_sgf_point
from .game import Game, IllegalMove, format_komi, parse_komi


MAX_SGF_BYTES = 64 * 2**20  # the largest SGF files (joseki dictionaries, game collections) hold a few MiB
SOFT_BREAKS = ("\r\n", "\n\r", "\n", "\r")  # a backslash before a line break removes it; longest first
# the CA property where a property may start (so not inside a C[...] comment): an ASCII charset name
CHARSET = re.compile(rb"[;\]]\s*CA\s*\[([^\]]{1,40})\]")
SYNTAX = b"(;CA[])"  # a charset that reads these bytes as other than ASCII (UTF-16, EBCDIC) is not the file's
SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "shift_jis": "cp932", "big5": "cp950"}  # what writers mean


class SgfError(ValueError):
    """A malformed or unusable SGF file; the message, one line, names the file and position."""

    def __init__(self, message: str):
        super().__init__(one_line(message))  # it quotes the file's text, line breaks included


@dataclass
class SgfRecord:
    """What rlkit takes from an SGF game: the board, the start position and the moves."""

    size: int = 19
    komi: float = 0.0
    setup: list[tuple[int, int]] = field(default_factory=list)  # (colour, point)
    first_to_play: int = 1
    moves: list[tuple[int, int]] = field(default_factory=list)  # (colour, action), pass = size*size
    info: dict[str, str] = field(default_factory=dict)  # PB, PW, RE, DT, C (root comment) ... as written


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("]", "\\]")


def to_sgf(game: Game, black: str = "", white: str = "", result: str | None = None,
           date: str | None = None, comment: str = "", handicap: int = 0) -> str:
    """The game as SGF FF[4] text: root properties (a root comment and the handicap HA, if given),
    setup stones, then one node per move."""
    n = game.size
    date = date or datetime.date.today().isoformat()
    if result is None:  # a game still in play has no result yet
        result = game.result() if game.over else ""
    root = f"GM[1]FF[4]CA[UTF-8]AP[rlkit:{__version__}]SZ[{n}]KM[{format_komi(game.komi)}]RU[Tromp-Taylor]"
    root += (f"PB[{_escape(black)}]" if black else "") + (f"PW[{_escape(white)}]" if white else "")
    root += f"DT[{_escape(date)}]" + (f"RE[{_escape(result)}]" if result else "")
    root += (f"HA[{handicap}]" if handicap >= 2 else "") + (f"C[{_escape(comment)}]" if comment else "")
    for color in (1, 2):
        points = [format_sgf_point(p, n) for c, p in game.setup if c == color]
        if points:
            root += f"A{color_letter(color)}" + "".join(f"[{q}]" for q in points)
    if game.setup:
        root += f"PL[{color_letter(game.first_to_play)}]"
    lines = [f"(;{root}"]
    moves = [f";{color_letter(c)}[{format_sgf_point(a, n)}]" for c, a in game.moves]
    lines += ["".join(moves[i:i + 10]) for i in range(0, len(moves), 10)]
    return "\n".join(lines) + ")\n"


def write_sgf(path: str | os.PathLike, game: Game, **info: str) -> None:
    """Write the game as SGF (UTF-8) atomically: a temporary file beside it, then a rename."""
    atomic_write_text(Path(path), to_sgf(game, **info))


class _Parser:
    """Recursive-descent SGF parser over the main line (first variation at each branch)."""

    def __init__(self, text: str, name: str):
        self.text, self.name, self.i = text, name, 0

    def fail(self, message: str, at: int | None = None) -> SgfError:
        at = self.i if at is None else at
        line = self.text.count("\n", 0, at) + 1
        column = at - (self.text.rfind("\n", 0, at) + 1) + 1
        return SgfError(f"{self.name}: line {line}, column {column}: {message}")

    def skip_space(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.i] if self.i < len(self.text) else ""

    def game_tree(self, nodes: list | None) -> None:
        """Parse '(' sequence subtrees ')'; append main-line nodes to `nodes` (None: discard)."""
        if self.peek() != "(":
            raise self.fail("expected '(' to start a game tree")
        self.i += 1
        if self.peek() != ";":
            raise self.fail("expected ';' to start a node")
        while self.peek() == ";":
            self.i += 1
            node = self.node()
            if nodes is not None:
                nodes.append(node)
        first = True
        while self.peek() == "(":
            self.game_tree(nodes if first else None)
            first = False
        if self.peek() != ")":
            raise self.fail("expected ')' or a node" if self.peek() else "unexpected end of file")
        self.i += 1

    def node(self) -> dict[str, tuple[list[str], int]]:
        props: dict[str, tuple[list[str], int]] = {}
        while self.peek().isalpha():
            start = self.i
            while self.i < len(self.text) and self.text[self.i].isalpha():
                self.i += 1
            name = self.text[start:self.i]
            ident = "".join(ch for ch in name if ch.isupper())
            if self.peek() != "[":
                raise self.fail(f"property {ident or name} has no value", start)
            values = props.setdefault(ident, ([], start))[0]  # a property given again adds its values
            while self.peek() == "[":
                values.append(self.value())
        return props

    def value(self) -> str:
        start = self.i
        self.i += 1
        out = []
        while True:
            if self.i >= len(self.text):
                raise self.fail("unterminated property value", start)
            ch = self.text[self.i]
            if ch == "\\":
                self.i += 1
                soft = next((b for b in SOFT_BREAKS if self.text.startswith(b, self.i)), "")  # removed (FF[4])
                if soft:
                    self.i += len(soft) - 1
                elif self.i < len(self.text):
                    out.append(self.text[self.i])
            elif ch == "]":
                self.i += 1
                return "".join(out)
            else:
                out.append(ch)
            self.i += 1


def _board_point(text: str, n: int) -> int:
    """A point on the board: setup stones and rectangle corners cannot be a pass."""
    point = parse_sgf_point(text, n)
    if point == n * n:
        raise ValueError(f"'{text}' is a pass, not a point on the board")
    return point


def _points(values: list[str], n: int) -> list[int]:
    """Expand SGF point lists, including compressed rectangles 'aa:cc'. A list of more points than
    the board has names one twice (which FF[4] forbids): refused before it grows (a 1 MB file of
    [aa:ss] once expanded to 50 million points and 4 GB)."""
    out = []
    for v in values:
        if ":" in v:
            a, b = (_board_point(x, n) for x in v.split(":", 1))
            (r0, c0), (r1, c1) = divmod(a, n), divmod(b, n)
            out += [r * n + c for r in range(min(r0, r1), max(r0, r1) + 1) for c in range(min(c0, c1), max(c0, c1) + 1)]
        else:
            out.append(_board_point(v, n))
        if len(out) > n * n:
            raise ValueError(f"lists more points than the {n}x{n} board has, so it names some twice")
    return out


def parse_sgf(text: str, name: str = "<sgf>") -> SgfRecord:
    """Parse SGF text (the first game, main line) into a record; SgfError names `name` and the position."""
    parser = _Parser(text, name)
    nodes: list[dict[str, tuple[list[str], int]]] = []
    try:
        parser.game_tree(nodes)
    except RecursionError:  # variations nested thousands deep
        raise SgfError(f"{name}: variations nested too deeply to read") from None
    root = nodes[0]
    rec = SgfRecord()

    def prop(node: dict[str, tuple[list[str], int]], key: str, default: str | None = None) -> str | None:
        """The first value of property `key` in `node`, else `default`."""
        return node[key][0][0] if key in node else default

    if prop(root, "GM", "1").strip() != "1":
        raise parser.fail("not a Go game (GM is not 1)", root["GM"][1])
    size_text = prop(root, "SZ", "19").strip()
    n = parse_number(size_text)
    if n is None or not 5 <= n <= 19:
        raise parser.fail(f"board size SZ[{size_text}] is not a number 5..19 (square boards, written SZ[N])",
                          root.get("SZ", ([], 0))[1])
    rec.size = n
    if "KM" in root:
        try:
            rec.komi = parse_komi(prop(root, "KM"))
        except ValueError:
            raise parser.fail(f"komi KM[{prop(root, 'KM')}] is not a number", root["KM"][1]) from None
    rec.info = {k: v[0][0] for k, v in root.items() if k in ("PB", "PW", "RE", "DT", "RU", "HA", "C") and v[0]}
    for index, node in enumerate(nodes):
        for key in ("AB", "AW", "AE"):
            if key in node and index > 0:
                raise parser.fail(f"setup property {key} after the first node is not supported", node[key][1])
        for key, color in (("B", 1), ("W", 2)):
            if key in node:
                if len(node[key][0]) > 1:
                    raise parser.fail(f"move {key} has {len(node[key][0])} values; a move is one point", node[key][1])
                try:
                    rec.moves.append((color, parse_sgf_point(node[key][0][0].strip(), n)))
                except ValueError as error:
                    raise parser.fail(f"move {key}: {error}", node[key][1]) from None
    for key, color in (("AB", 1), ("AW", 2)):
        if key in root:
            try:
                rec.setup += [(color, p) for p in _points([v.strip() for v in root[key][0]], n)]
            except ValueError as error:
                raise parser.fail(f"setup {key}: {error}", root[key][1]) from None
    if "AE" in root:  # on the empty board it removes nothing, but never a stone AB/AW place in the node
        try:
            cleared = set(_points([v.strip() for v in root["AE"][0]], n))
        except ValueError as error:
            raise parser.fail(f"setup AE: {error}", root["AE"][1]) from None
        both = sorted(p for _, p in rec.setup if p in cleared)
        if both:
            raise parser.fail(f"AE[{format_sgf_point(both[0], n)}] clears a point that AB or AW sets in the same node",
                              root["AE"][1])
    if "PL" in root:
        pl = prop(root, "PL").strip().upper()
        if pl not in ("B", "W"):
            raise parser.fail(f"PL[{pl}] is not B or W", root["PL"][1])
        rec.first_to_play = 1 if pl == "B" else 2
    elif rec.moves:
        rec.first_to_play = rec.moves[0][0]
    elif (parse_number(rec.info.get("HA", "").strip()) or 0) >= 2 and rec.setup:
        rec.first_to_play = 2  # handicap stones placed, no move yet: White plays next (as GNU Go reads it)
    return rec


def read_sgf(path: str | os.PathLike) -> SgfRecord:
    """Read an SGF file; SgfError (naming the file) if it is missing, unreadable or malformed."""
    try:
        with open(path, "rb") as handle:  # read at most MAX_SGF_BYTES: not /dev/zero or a disk image to its end
            data = handle.read(MAX_SGF_BYTES + 1)
    except OSError as error:
        raise SgfError(f"{path}: cannot read: {error.strerror}") from None
    if len(data) > MAX_SGF_BYTES:
        raise SgfError(f"{path}: larger than {MAX_SGF_BYTES // 2**20} MiB, too large for a game record")
    return parse_sgf(decode_sgf(data), str(path))


def decode_sgf(data: bytes) -> str:
    """An SGF file's text, past a byte-order mark: UTF-8 when it is valid UTF-8 (whatever CA says: converters
    keep stale CAs), else in the charset CA names, so that a Shift_JIS or GBK character whose second byte is
    '\\' or ']' stays one character and does not escape or end its value, else Latin-1 (FF[4]'s default).
    A 7-bit ISO-2022 file (escape sequences, and JIS bytes such as '\\') is valid UTF-8 too: CA decides it."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Windows Notepad's "Unicode"
        return data.decode("utf-16", errors="replace")
    data = data.removeprefix(codecs.BOM_UTF8)  # some editors (on Windows) begin the file with one
    match = CHARSET.search(data)
    try:
        named = codecs.lookup(match[1].decode("ascii").strip()).name if match else "latin-1"
    except (LookupError, UnicodeError):  # unknown to Python, or not ASCII
        named = "latin-1"
    charset = SUPERSETS.get(named, named)
    if charset.startswith("iso2022") and b"\x1b" in data:
        try:
            return data.decode(charset)
        except UnicodeError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        if SYNTAX.decode(charset) != SYNTAX.decode("ascii"):
            raise LookupError(charset)
        return data.decode(charset, errors="replace")
    except (LookupError, UnicodeError):  # no text codec ('hex'), or one that cannot replace ('idna')
        return data.decode("latin-1")


def replay(rec: SgfRecord, until: int | None = None, name: str = "<sgf>", max_moves: int | None = None) -> Game:
    """A Game at the record's position before move number `until` (1-based; None = after all moves)."""
    game = Game(rec.size, komi=rec.komi, max_moves=max_moves)
    for color, point in rec.setup:  # one at a time, to name the stone at fault
        try:
            game.place_setup([(color, point)])
        except ValueError:
            raise SgfError(f"{name}: setup stone A{color_letter(color)}[{format_sgf_point(point, rec.size)}] is on "
                           "an occupied point or has no liberty") from None
    game.first_to_play = game.to_play = rec.first_to_play
    moves = rec.moves if until is None else rec.moves[: max(until - 1, 0)]
    for number, (color, action) in enumerate(moves, 1):
        try:
            game.play(action, color)
        except IllegalMove:
            raise SgfError(f"{name}: move {number} ({color_letter(color)}[{format_sgf_point(action, rec.size)}]) is illegal") from None
    return game
