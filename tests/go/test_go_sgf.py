"""SGF: round trip, setup stones, files written by GNU Go, clear errors, atomic writes."""

from __future__ import annotations

import os
import shutil

import pytest

from rlkit.envs.go.coords import format_vertex
from rlkit.envs.go.game import Game
from rlkit.envs.go.gtp_client import GtpClient
from rlkit.envs.go.sgf import SgfError, parse_sgf, read_sgf, replay, to_sgf, write_sgf

GNUGO = shutil.which("gnugo") or "/usr/games/gnugo"


def random_game(size: int, moves: int) -> Game:
    game = Game(size, komi=6.5)
    for _ in range(moves):
        game.play(game.random_action())
    game.play(game.pass_action)
    game.play(game.pass_action)
    return game


@pytest.mark.parametrize("size", [5, 9, 19])
def test_round_trip_keeps_moves_passes_board_and_metadata(tmp_path, size):
    game = random_game(size, 3 * size)
    path = tmp_path / "g.sgf"
    write_sgf(path, game, black="rlkit random", white="GNU Go [3.8]", date="2024-06-07")
    text = path.read_text()
    for prop in ("GM[1]", "FF[4]", f"SZ[{size}]", "KM[6.5]", "RU[", "PB[rlkit random]", "PW[GNU Go [3.8\\]]",
                 "DT[2024-06-07]", f"RE[{game.result()}]", ";B[]", ";W[]"):
        assert prop in text, prop
    rec = read_sgf(path)
    assert (rec.size, rec.komi, rec.moves) == (size, 6.5, game.moves)
    assert rec.info["PW"] == "GNU Go [3.8]" and rec.info["RE"] == game.result()
    back = replay(rec)
    assert (back.board() == game.board()).all() and back.result() == game.result()
    assert back.captures(1) == game.captures(1) and back.captures(2) == game.captures(2)


def test_setup_stones_compressed_lists_player_to_move_and_variations():
    rec = parse_sgf("(;GM[1]FF[4]SZ[5]KM[0.5]AB[aa:ab][cc]AW[ee]PL[W]C[comment \\] here]"
                    ";W[dd];B[] (;W[bb]) (;W[ba];B[ca]))")
    assert rec.setup == [(1, 0), (1, 5), (1, 12), (2, 24)]
    assert rec.first_to_play == 2 and rec.komi == 0.5
    assert rec.moves == [(2, 18), (1, 25), (2, 6)]  # the first variation is the main line
    game = replay(rec)
    assert sorted(game.stones(1)) == [0, 5, 12] and sorted(game.stones(2)) == [6, 18, 24]
    again = parse_sgf(to_sgf(game))
    assert again.setup == rec.setup and again.moves == rec.moves and again.first_to_play == 2


def test_reads_files_written_by_gnugo(tmp_path):
    path = tmp_path / "gnugo.sgf"
    with GtpClient(f"{GNUGO} --mode gtp --chinese-rules --positional-superko") as gnugo:
        gnugo.send("boardsize 9")
        gnugo.send("komi 5.5")
        for move in ("play b e5", "play w c3", "genmove b", "genmove w", "genmove b", "genmove w"):
            gnugo.send(move)
        gnugo.send(f"printsgf {path}")
        stones = {c: sorted(gnugo.send(f"list_stones {c}").split()) for c in ("black", "white")}
        printed = gnugo.send("printsgf")
    for rec in (read_sgf(path), parse_sgf(printed, "printsgf reply")):
        game = replay(rec)
        assert rec.size == 9 and rec.komi == 5.5
        for color, name in ((1, "black"), (2, "white")):
            assert sorted(format_vertex(p, 9) for p in game.stones(color)) == stones[name]


def test_gnugo_reads_files_we_write(tmp_path):
    game = random_game(9, 40)
    path = tmp_path / "ours.sgf"
    write_sgf(path, game)
    with GtpClient(f"{GNUGO} --mode gtp --chinese-rules --positional-superko") as gnugo:
        gnugo.send(f"loadsgf {path}")
        for color, name in ((1, "black"), (2, "white")):
            assert sorted(gnugo.send(f"list_stones {name}").split()) == sorted(format_vertex(p, 9) for p in game.stones(color))


@pytest.mark.parametrize("text,message", [
    ("", "line 1, column 1: expected '('"),
    ("(;GM[1]SZ[9];B[cc]", "unexpected end of file"),
    ("(;GM[1]SZ[9];B[cc", "unterminated property value"),
    ("(;GM[1]SZ[30])", "SZ[30]"),
    ("(;GM[1]SZ[²])", "SZ[²]"),  # isdigit() takes it, int() does not
    ("(;GM[1]SZ[" + "1" * 4301 + "])", "is not a number 5..19"),  # int() refuses 4,301 digits: ValueError
    ("(;GM[1]SZ[9\n\n;B[cc])", "line 1, column 8: board size SZ[9\\n\\n;B[cc] is not"),  # broke GTP's framing
    ("(;GM[1]SZ[9]xy\n\n;B[aa])", "line 1, column 13: property xy has no value"),  # said 'xy\n\n', line 3
    ("(;GM[2])", "not a Go game"),
    ("(;GM[1]SZ[9]KM[lots])", "KM[lots]"),
    ("(;GM[1]SZ[9]KM[nan])", "KM[nan]"),  # final_score said W+nan
    ("(;GM[1]SZ[9]KM[6_5])", "KM[6_5]"),  # read as 65
    ("(;GM[1]SZ[9]" + "(;C[]" * 5000 + ")" * 5000 + ")", "nested too deeply"),  # RecursionError before
    ("(;GM[1]SZ[9]\n;B[zz])", "line 2, column 2: move B"),
    ("(;GM[1]SZ[9];B[cc];W[cc])", "move 2"),
    ("(;GM[1]SZ[9]AB[aa]AW[ab][ba])", "setup stone AW[ba] is on an occupied point or has no liberty"),
    ("(;GM[1]SZ[9]AB[aa]AE[aa])", "line 1, column 19: AE[aa] clears a point that AB or AW sets"),
    ("(;GM[1]SZ[9];B[aa][bb])", "line 1, column 14: move B has 2 values"),
    ("(;GM[1]SZ[9]AB[])", "setup AB: '' is a pass"),  # read out of bounds in the compiled engine before
    ("(;GM[1]SZ[9]AB[tt])", "setup AB: 'tt' is a pass"),
    ("(;GM[1]SZ[9]AW[aa:tt])", "setup AW: 'tt' is a pass"),
    ("(;GM[1]SZ[9];B[ja])", "line 1, column 14: move B: point 'ja' is off the 9x9 board"),  # column 9 of 0..8
])
def test_malformed_files_name_the_file_and_position(tmp_path, text, message):
    path = tmp_path / "broken.sgf"
    path.write_text(text)
    with pytest.raises(SgfError) as info:
        replay(read_sgf(path), name=str(path))
    assert str(path) in str(info.value) and message in str(info.value)
    assert str(info.value).isprintable()  # one line, whatever the file quotes


def test_a_property_given_again_in_a_node_adds_its_values():
    """Each repeat rebuilt the list of values so far: 100,000 repeats of C[x] took 12 s to read."""
    record = parse_sgf("(;GM[1]SZ[9]AB[aa]AW[cc]AB[bb]" + "C[x]" * 100_000 + ")")
    assert record.setup == [(1, 0), (1, 10), (2, 20)]


def test_a_game_longer_than_the_engine_arrays_grows_them_and_reads_back(tmp_path):
    """Records longer than the 10*N*N moves a Game first holds (rlkit match allows 100*N*N) were
    refused: replay called move 251 of a 5x5 game illegal, and `rlkit gtp` refused even a pass."""
    game = Game(5, komi=0.5)
    while len(game.moves) < 600:
        game.play(game.random_action())
    assert game.max_moves >= 600
    path = tmp_path / "long.sgf"
    write_sgf(path, game)
    back = replay(read_sgf(path))
    assert back.moves == game.moves and (back.board() == game.board()).all()
    assert back.is_legal(back.pass_action) and back.play(back.pass_action) == 0


def test_soft_line_breaks_of_every_kind_are_removed_and_dates_are_escaped():
    for line_break in ("\n", "\r\n", "\r", "\n\r"):
        assert parse_sgf(f"(;GM[1]SZ[9]PB[Lee\\{line_break}Sedol])").info["PB"] == "LeeSedol"
    text = to_sgf(Game(5), date="2024] C[injected")
    assert "DT[2024\\] C[injected]" in text and parse_sgf(text).info["DT"] == "2024] C[injected"


def test_backslashes_in_names_survive_a_round_trip():
    """Written unescaped, a backslash escapes the next character: 'C:\\bot' would read back as 'C:bot'."""
    rec = parse_sgf(to_sgf(Game(5), black="C:\\bot", white="ends\\", comment="a\\]b"))
    assert (rec.info["PB"], rec.info["PW"], rec.info["C"]) == ("C:\\bot", "ends\\", "a\\]b")


def test_a_handicap_is_written_from_two_stones_up():
    """HA[1] is no handicap game in SGF (one stone is just Black's first move): only 2 and more are written."""
    assert "HA[" not in to_sgf(Game(9), handicap=0) and "HA[" not in to_sgf(Game(9), handicap=1)
    assert "HA[2]" in to_sgf(Game(9), handicap=2)


def test_replay_until_n_is_the_position_before_move_n():
    """GTP's `loadsgf FILE N` semantics: move N itself is not played (N <= 1 is the start position)."""
    rec = parse_sgf("(;GM[1]SZ[9];B[cc];W[dd];B[ee])")  # C7, D6, E5
    stones = [(sorted(g.stones(1)), sorted(g.stones(2))) for g in (replay(rec, k) for k in (1, 2, 3, 4))]
    assert stones == [([], []), ([20], []), ([20], [30]), ([20, 40], [30])]
    assert replay(rec, 2).to_play == 2 and len(replay(rec, 2).moves) == 1


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SgfError, match="nope.sgf: cannot read"):
        read_sgf(tmp_path / "nope.sgf")


def test_hostile_files_are_refused_before_they_take_the_memory(tmp_path, monkeypatch):
    """A 1 MB file of repeated AB[aa:ss] once expanded to 50 million points (4 GB) before replay
    refused it; /dev/zero or a disk image was read to its end. Both are refused at once."""
    with pytest.raises(SgfError, match="setup AB: lists more points than the 19x19 board has"):
        parse_sgf("(;GM[1]SZ[19]AB" + "[aa:ss]" * 140_000 + ")")
    with pytest.raises(SgfError, match="setup AE: lists more points"):
        parse_sgf("(;GM[1]SZ[9]AE" + "[aa:ii][aa]" + ")")
    assert len(parse_sgf("(;GM[1]SZ[9]AB[aa:ii])").setup) == 81  # the whole board is still one list
    monkeypatch.setattr("rlkit.envs.go.sgf.MAX_SGF_BYTES", 100)
    (tmp_path / "big.sgf").write_text("(;GM[1]SZ[9]C[" + "x" * 200 + "])")
    with pytest.raises(SgfError, match="big.sgf: larger than"):
        read_sgf(tmp_path / "big.sgf")


def test_writes_are_atomic_and_replace_the_old_file(tmp_path):
    path = tmp_path / "out" / "g.sgf"
    write_sgf(path, random_game(5, 5))
    first = path.read_text()
    write_sgf(path, random_game(5, 12))
    assert path.read_text() != first
    assert os.listdir(path.parent) == ["g.sgf"]  # no temporary file left behind
    (tmp_path / "plain.sgf").write_text("x")  # readable like any file the user writes (was 0600)
    assert path.stat().st_mode == (tmp_path / "plain.sgf").stat().st_mode


def test_a_game_still_in_play_is_written_without_a_result():
    game = Game(9, 6.5)
    game.play(game.size * 2 + 2)
    game.play(game.size * game.size)  # one pass: not over
    assert "RE[" not in to_sgf(game)
    game.play(game.size * game.size)
    assert f"RE[{game.result()}]" in to_sgf(game)


def test_negative_komi_survives_a_round_trip():
    game = Game(9, -3.5)
    game.play(game.pass_action)
    game.play(game.pass_action)
    rec = parse_sgf(to_sgf(game))
    assert rec.komi == -3.5 and replay(rec).result() == game.result() == "B+3.5"  # komi below zero goes to Black


def test_without_pl_the_first_move_says_who_starts():
    rec = parse_sgf("(;GM[1]FF[4]SZ[9]AB[cc][gg];W[ee];B[dd])")
    assert rec.first_to_play == 2 and replay(rec).to_play == 2


def test_after_handicap_stones_and_no_move_white_is_to_play():
    """Without PL or a move, a handicap game read as Black to play and printsgf wrote PL[B]."""
    rec = parse_sgf("(;GM[1]FF[4]SZ[19]HA[2]AB[dd][pp])")
    assert rec.first_to_play == 2 and "PL[W]" in to_sgf(replay(rec), handicap=2)
    assert parse_sgf("(;GM[1]FF[4]SZ[9]AB[cc][gg])").first_to_play == 1  # a set-up position: Black, the default


def test_a_byte_order_mark_is_read_past(tmp_path):
    """Some editors (on Windows) begin UTF-8 files with one."""
    path = tmp_path / "bom.sgf"
    path.write_bytes("\ufeff(;GM[1]SZ[9]PB[Jörg];B[ee])".encode("utf-8"))
    rec = read_sgf(path)
    assert rec.moves == [(1, 40)] and rec.info["PB"] == "Jörg"


@pytest.mark.parametrize("komi, written", [(7.0, "7"), (123456.5, "123456.5"), (1234567.5, "1234567.5"),
                                           (1e7, "10000000"), (-0.5, "-0.5")])
def test_komi_is_written_with_every_digit(komi, written):
    """`:g` wrote 6 significant digits: KM[123456] for 123456.5, and KM[1.23457e+06], which no reader takes."""
    game = Game(5, komi)
    game.play(game.pass_action)
    game.play(game.pass_action)
    text = to_sgf(game)
    assert f"KM[{written}]" in text and parse_sgf(text).komi == komi
    assert game.result() == f"W+{written.lstrip('-')}" if komi > 0 else game.result() == f"B+{written.lstrip('-')}"


@pytest.mark.parametrize("charset, encoding, black, white", [
    ("Shift_JIS", "shift_jis", "申", "表"),  # second bytes '\\' (0x5C): read as escapes, KM[6.5] went into PB
    ("GB2312", "gbk", "乗", "乚"),  # second bytes '\\' and ']' (0x5D): the file was refused as malformed
    ("ISO-8859-1", "latin-1", "Jörg", "Ærø"),
    ("ISO-2022-JP", "iso2022_jp", "本因坊", "秀策"),  # 7-bit, so valid UTF-8: '本' (ESC $ B K \\) escaped PB's ']'
])
def test_a_file_in_the_charset_its_ca_names_is_read_in_it(tmp_path, charset, encoding, black, white):
    path = tmp_path / "g.sgf"
    path.write_bytes(f"(;GM[1]FF[4]CA[{charset}]SZ[9]PB[{black}]PW[{white}]KM[6.5];B[aa];W[bb])".encode(encoding))
    rec = read_sgf(path)
    assert (rec.komi, rec.info["PB"], rec.info["PW"], rec.moves) == (6.5, black, white, [(1, 0), (2, 10)])


def test_a_utf8_file_with_a_stale_ca_is_read_as_utf8(tmp_path):
    """A converter that re-encodes a file often keeps its CA; read as GBK, '洁]' would lose the ']'."""
    path = tmp_path / "g.sgf"
    path.write_bytes("(;GM[1]CA[GB2312]SZ[9]PB[柯洁]KM[7.5];B[aa])".encode("utf-8"))
    rec = read_sgf(path)
    assert (rec.komi, rec.info["PB"], rec.moves) == (7.5, "柯洁", [(1, 0)])


@pytest.mark.parametrize("charset", ["no-such-charset", "hex", "\xff", "undefined", "idna", "UTF-16", "cp037"])
def test_an_unknown_charset_is_read_as_latin1(tmp_path, charset):
    path = tmp_path / "g.sgf"
    path.write_bytes(b"(;GM[1]CA[" + charset.encode("latin-1") + b"]SZ[9]PB[J\xf6rg];B[aa])")
    assert read_sgf(path).info["PB"] == "Jörg"


def test_the_ca_in_a_comment_is_not_the_files(tmp_path):
    """The first 'CA[' anywhere was taken: a comment's CA[UTF-8\\] decided, and '表' (0x95 0x5C) escaped PB's ']'."""
    path = tmp_path / "g.sgf"
    path.write_bytes("(;GM[1]FF[4]C[write CA[UTF-8\\] next time]CA[Shift_JIS]SZ[9]PB[表];B[aa])".encode("cp932"))
    rec = read_sgf(path)
    assert (rec.info["PB"], rec.moves) == ("表", [(1, 0)])


@pytest.mark.parametrize("mark, encoding", [(b"\xef\xbb\xbf", "cp932"), (b"", "utf-16")])
def test_a_byte_order_mark_before_another_charset(tmp_path, mark, encoding):
    """A UTF-8 mark before Shift_JIS bytes was read as Latin-1 'ï»¿' and refused ("expected '('"); so was UTF-16."""
    path = tmp_path / "g.sgf"
    path.write_bytes(mark + "(;GM[1]FF[4]CA[Shift_JIS]SZ[9]PB[本因坊];B[aa])".encode(encoding))  # utf-16: with its mark
    rec = read_sgf(path)
    assert (rec.info["PB"], rec.moves) == ("本因坊", [(1, 0)])
