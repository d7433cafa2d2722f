"""The emulator's public API and the behaviour beyond the cases of test_pyte_gaps.py."""

from __future__ import annotations

import dataclasses

import pytest

from ssp.screen import (
    BOLD,
    CHOICE_MODES,
    DIM,
    FLAG_MODES,
    ITALIC,
    UNDERLINE,
    ChoiceMode,
    Clipboard,
    FlagMode,
    Framebuffer,
    Modes,
    Rendition,
    palette_color,
    rgb_color,
)
from termemu.emulator import Emulator
from termemu.sgr import apply_sgr


def feed(data: str | bytes, width: int = 80, height: int = 24) -> Emulator:
    emulator = Emulator(width, height)
    emulator.feed(data.encode() if isinstance(data, str) else data)
    return emulator


def lines(emulator: Emulator) -> list[str]:
    return emulator.snapshot().text_lines()


# --- API -----------------------------------------------------------------------------------
def test_defaults_and_size() -> None:
    emulator = Emulator()
    fb = emulator.snapshot(echo_ack=7)
    assert (emulator.width, emulator.height) == (80, 24)
    assert (fb.width, fb.height, fb.echo_ack) == (80, 24, 7)
    assert all(row.width == 80 for row in fb.rows)
    assert fb.title == fb.icon_name == ""
    assert fb.clipboard is None


def test_replies_queue_and_empty() -> None:
    emulator = feed("\x1b[c\x1b[0c\x1b[5n\x1b[3;4H\x1b[6n")
    assert emulator.take_replies() == b"\x1b[?62c\x1b[?62c\x1b[0n\x1b[3;4R"
    assert emulator.take_replies() == b""


def test_cursor_report_in_origin_mode_and_pending_wrap() -> None:
    emulator = feed("\x1b[5;10r\x1b[?6h\x1b[2;3H\x1b[6n")
    assert emulator.take_replies() == b"\x1b[2;3R"
    emulator = feed("A" * 80 + "\x1b[6n")
    assert emulator.take_replies() == b"\x1b[1;80R"


def test_decid_answers_like_primary_da() -> None:
    assert feed("\x1bZ").take_replies() == b"\x1b[?62c"


def test_utf8_split_across_feeds_and_invalid_bytes() -> None:
    emulator = Emulator()
    data = "中x".encode()
    emulator.feed(data[:1])
    emulator.feed(data[1:2])
    emulator.feed(data[2:])
    assert lines(emulator)[0] == "中x"
    emulator = feed(b"a\xffb\xc3")
    emulator.feed(b"(c")
    assert lines(emulator)[0] == "a\ufffdb\ufffd(c"


def test_feed_survives_a_failing_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = Emulator()

    def boom(*args: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(emulator.screen, "erase_in_line", boom)
    emulator._parser._csi["K"] = (boom, 1)
    emulator.feed(b"AB\x1b[KCD\x1b[31mE")
    assert lines(emulator)[0] == "ABCDE"
    assert emulator.snapshot().rows[0].renditions[4].fg == palette_color(1)
    assert emulator._parser.errors == 1


# --- snapshots -----------------------------------------------------------------------------
def test_unchanged_rows_are_the_same_objects() -> None:
    emulator = feed("hello\r\nworld")
    first = emulator.snapshot()
    second = emulator.snapshot()
    assert all(a is b for a, b in zip(first.rows, second.rows, strict=True))
    emulator.feed(b"!")
    third = emulator.snapshot()
    pairs = enumerate(zip(second.rows, third.rows, strict=True))
    changed = [i for i, (a, b) in pairs if a is not b]
    assert changed == [1]
    assert third.rows[1].text.rstrip() == "world!"


def test_scrolled_rows_keep_their_objects() -> None:
    emulator = feed("\r\n".join(f"line {i}" for i in range(24)), height=24)
    before = emulator.snapshot()
    emulator.feed(b"\r\nnew")
    after = emulator.snapshot()
    assert all(after.rows[i] is before.rows[i + 1] for i in range(22))
    assert after.text_lines()[23] == "new"


def test_snapshot_is_a_valid_diff_base() -> None:
    emulator = feed("\x1b[1;31mred\x1b[0m 中文 e\u0301")
    old = Framebuffer()
    new = emulator.snapshot()
    replica = old.copy()
    replica.apply(new.diff_from(old))
    assert replica == new


# --- alternate screen ----------------------------------------------------------------------
def test_alternate_screen_restores_main_rows_exactly() -> None:
    emulator = feed("\x1b[32mshell$ \x1b[0mless file")
    main = emulator.snapshot()
    emulator.feed(b"\x1b[?1049h\x1b[2J\x1b[Hpager text\x1b[44m\x1b[5;5Hx")
    assert emulator.snapshot().text_lines()[0] == "pager text"
    emulator.feed(b"\x1b[?1049l")
    back = emulator.snapshot()
    assert all(a is b for a, b in zip(main.rows, back.rows, strict=True))
    assert (back.cursor_row, back.cursor_col) == (main.cursor_row, main.cursor_col)
    emulator.feed(b"X")  # the pen saved with ?1049 is back too
    assert emulator.snapshot().rows[0].renditions[len("shell$ less file")] == Rendition()


def test_alternate_screen_enter_twice_and_resize_inside() -> None:
    emulator = feed("one\r\ntwo\x1b[?1049h\x1b[?1049hALT")
    emulator.resize(40, 10)
    emulator.feed(b"\x1b[?1049l")
    fb = emulator.snapshot()
    assert fb.text_lines()[:2] == ["one", "two"]
    assert (fb.width, fb.height) == (40, 10)
    assert (fb.cursor_row, fb.cursor_col) == (1, 3)


# --- resize --------------------------------------------------------------------------------
def test_resize_shrink_keeps_cursor_row() -> None:
    emulator = feed("\r\n".join(f"L{i}" for i in range(20)))
    emulator.resize(80, 10)
    fb = emulator.snapshot()
    assert fb.text_lines()[-1] == "L19"
    assert fb.cursor_row == 9
    emulator = feed("top\r\nprompt$ ")
    emulator.resize(80, 5)
    fb = emulator.snapshot()
    assert fb.text_lines()[:2] == ["top", "prompt$"]
    assert (fb.cursor_row, fb.cursor_col) == (1, 8)


def test_resize_width_trims_pads_and_splits_wide() -> None:
    emulator = feed("abc中")
    emulator.resize(4, 24)
    fb = emulator.snapshot()
    assert fb.rows[0].cells == ("a", "b", "c", " ")
    assert fb.cursor_col == 3
    emulator.resize(10, 30)
    fb = emulator.snapshot()
    assert (fb.width, fb.height) == (10, 30)
    assert all(row.width == 10 for row in fb.rows)
    emulator.feed(b"\t|")
    assert emulator.snapshot().text_lines()[0] == "abc     |"


def test_resize_to_one_cell_and_back() -> None:
    emulator = feed("中文")
    emulator.resize(1, 1)
    emulator.feed("中x".encode())
    fb = emulator.snapshot()
    assert fb.rows[0].cells == ("x",)
    emulator.resize(0, 0)  # nonsense sizes are clamped, never raise
    assert (emulator.width, emulator.height) == (1, 1)


# --- SGR -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("", (0, 0, 0)),
        ("1;2;3", (0, 0, BOLD | DIM | ITALIC)),
        ("4:3", (0, 0, UNDERLINE)),
        ("38:5:200", (palette_color(200), 0, 0)),
        ("38:2:1:2:3", (rgb_color(1, 2, 3), 0, 0)),
        ("48:2::4:5:6", (0, rgb_color(4, 5, 6), 0)),
        ("58;2;1;2;3;1", (0, 0, BOLD)),  # underline colour skipped, not misread
        ("58:5:4;3", (0, 0, ITALIC)),
        ("38;5;300;1", (0, 0, BOLD)),  # out-of-range colour ignored
        ("38;5", (0, 0, 0)),
        ("38;9;1", (0, 0, BOLD)),
        ("97;107", (palette_color(15), palette_color(15), 0)),
        ("99999999999999999999;1", (0, 0, BOLD)),
    ],
)
def test_sgr_parsing(params: str, expected: tuple[int, int, int]) -> None:
    assert apply_sgr(params, (0, 0, 0)) == expected


def test_sgr_resets() -> None:
    pen = apply_sgr("1;2;3;4;5;7;8;9;31;41", (0, 0, 0))
    assert apply_sgr("22;23;24;25;27;28;29;39;49", pen) == (0, 0, 0)
    assert apply_sgr("4:0", (0, 0, UNDERLINE | BOLD)) == (0, 0, BOLD)


def test_erase_uses_background_only() -> None:
    bce = Rendition(0, palette_color(1), 0)
    emulator = feed("ABCDEF\x1b[1;7;41m\x1b[1;3H\x1b[1X\x1b[1P")
    row = emulator.snapshot().rows[0]
    assert row.cells[:6] == ("A", "B", "D", "E", "F", " ")
    assert row.renditions[2] == Rendition()
    assert row.renditions[79] == bce  # DCH fills from the right with BCE
    emulator.feed(b"\x1b[1@")
    row = emulator.snapshot().rows[0]
    assert row.cells[:4] == ("A", "B", " ", "D")
    assert row.renditions[2] == bce


# --- strings and odd sequences -------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        "\x1bPq#0;2;0;0;0#0~~@@\x1b\\OK",
        "\x1bP1$r0m\x07OK",
        "\x1b_Gf=24;AAAA\x1b\\OK",
        "\x1b^privacy\x1b\\OK",
        "\x1bXsos\x1b\\OK",
        "\x1b]8;;http://example.com\x1b\\OK\x1b]8;;\x1b\\",
        "\x1b]7;file:///tmp\x07OK",
        "\x1b[?1;2$pOK",
        "\x1b[ qOK",
        "\x1b[>0qOK",
        "\x1b[=1;1uOK",
        "\x1b[?2026hOK\x1b[?2026l",
        "\x1b[?1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17;18;19;20;21;22hOK",
        "\x1b[1;2;3;4;5;6;7;8sOK",
        "\x1b[12;1;2;3TOK",
        "\x1b%GOK",
        "\x1b)0\x1b*0\x1b+BOK",
        "\x1b#3OK",
        "\x1b[1\x18OK",
        "\x1b]0;never ends\x18OK",
    ],
)
def test_sequences_swallowed_without_printing(data: str) -> None:
    assert lines(feed(data))[0] == "OK"


def test_c0_inside_csi_is_executed() -> None:
    assert lines(feed("ABC\x1b[2\x08DX"))[0] == "XBC"  # BS runs first, then CUB 2


def test_esc_inside_csi_aborts_it() -> None:
    assert lines(feed("\x1b[12\x1b[31mX"))[0] == "X"


def test_osc_terminator_split_across_feeds() -> None:
    emulator = feed("\x1b]2;my ti")
    emulator.feed(b"tle\x1b")
    emulator.feed(b"\\after")
    fb = emulator.snapshot()
    assert fb.title == "my title"
    assert fb.text_lines()[0] == "after"


def test_osc_ended_by_another_escape() -> None:
    emulator = feed("\x1b]2;t\x1b[31mX")
    fb = emulator.snapshot()
    assert fb.title == "t"
    assert fb.rows[0].cells[0] == "X"
    assert fb.rows[0].renditions[0].fg == palette_color(1)


def test_title_strips_controls_and_is_bounded() -> None:
    emulator = feed("\x1b]2;a\x01b\u009bc\x07")
    assert emulator.snapshot().title == "abc"
    emulator.feed(b"\x1b]2;" + b"x" * 10000 + b"\x07")
    assert len(emulator.snapshot().title) == 4096


def test_clipboard_any_selection_and_serials() -> None:
    emulator = feed("\x1b]52;c;Zm9v\x07\x1b]52;p;YmFy\x1b\\\x1b]52;c;?\x07")
    assert emulator.snapshot().clipboard == Clipboard(2, "p", "YmFy")
    emulator.feed(b"\x1b]52;;\x07")
    assert emulator.snapshot().clipboard == Clipboard(3, "", "")


def test_huge_osc_is_dropped_not_kept() -> None:
    emulator = feed(b"\x1b]52;c;" + b"A" * (2 << 20) + b"\x07ok")
    fb = emulator.snapshot()
    assert fb.clipboard is None
    assert fb.text_lines()[0] == "ok"


# --- modes ---------------------------------------------------------------------------------
def test_mouse_modes() -> None:
    emulator = feed("\x1b[?1000h\x1b[?1003h\x1b[?1000l")
    assert emulator.snapshot().modes.mouse_reporting == 1003  # reset of a non-active one
    emulator.feed(b"\x1b[?1003l\x1b[?9h\x1b[?1015h\x1b[?1005h\x1b[?1015l")
    modes = emulator.snapshot().modes
    assert (modes.mouse_reporting, modes.mouse_encoding) == (9, 1005)


@pytest.mark.parametrize("flag", FLAG_MODES)
def test_decset_and_decrst_set_each_forwarded_flag(flag: FlagMode) -> None:
    emulator = feed(f"\x1b[?{flag.number}{'l' if flag.default else 'h'}")
    assert emulator.snapshot().modes == dataclasses.replace(
        Modes(), **{flag.name: not flag.default}
    )
    emulator.feed(f"\x1b[?{flag.number}{'h' if flag.default else 'l'}".encode())
    assert emulator.snapshot().modes == Modes()


@pytest.mark.parametrize(("choice", "number"), [(c, n) for c in CHOICE_MODES for n in c.numbers])
def test_decset_and_decrst_set_each_choice(choice: ChoiceMode, number: int) -> None:
    emulator = feed(f"\x1b[?{number}h")
    assert emulator.snapshot().modes == dataclasses.replace(Modes(), **{choice.name: number})
    emulator.feed(f"\x1b[?{number}l".encode())
    assert emulator.snapshot().modes == Modes()


def test_keypad_and_cursor_keys() -> None:
    emulator = feed("\x1b=\x1b[?1h")
    modes = emulator.snapshot().modes
    assert modes.app_keypad and modes.app_cursor_keys
    emulator.feed(b"\x1b>\x1b[!p")
    modes = emulator.snapshot().modes
    assert not modes.app_keypad and not modes.app_cursor_keys


def test_ris_resets_screen_and_modes_but_keeps_title() -> None:
    emulator = feed("\x1b]2;t\x07\x1b[?1049h\x1b[?25l\x1b[?1000h\x1b[31mtext\x1bc")
    fb = emulator.snapshot()
    assert fb.text_lines() == [""] * 24
    assert fb.modes.cursor_visible and fb.modes.mouse_reporting == 0
    assert fb.title == "t"
    emulator.feed(b"\x1b[?1049lX")
    assert emulator.snapshot().text_lines()[0] == "X"


def test_decstr_resets_margins_pen_and_insert_mode() -> None:
    emulator = feed("\x1b[5;10r\x1b[4h\x1b[1m\x1b[?6h\x1b[!p\x1b[HAB\x1b[HX")
    fb = emulator.snapshot()
    assert fb.text_lines()[0] == "XB"
    assert fb.rows[0].renditions[0] == Rendition()


def test_linefeed_newline_mode() -> None:
    assert lines(feed("\x1b[20hAB\nC"))[:2] == ["AB", "C"]


def test_dec_graphics_via_shift_out() -> None:
    emulator = feed("\x1b)0a\x0eq\x0fq")
    assert lines(emulator)[0] == "a─q"


def test_decaln_and_margin_scrolling() -> None:
    emulator = feed("\x1b#8")
    assert lines(emulator) == ["E" * 80] * 24
    emulator = feed("\x1b[2;3r\x1b[3;1H\x1b[44mx\n")
    fb = emulator.snapshot()
    assert fb.text_lines()[1:3] == ["x", ""]
    assert fb.rows[2].renditions[0] == Rendition(0, palette_color(4), 0)


def test_cursor_motion_outside_region_is_not_stopped_by_margins() -> None:
    emulator = feed("\x1b[5;10r\x1b[2;1H\x1b[A\x1b[20;1H\x1b[2B")
    fb = emulator.snapshot()
    assert fb.cursor_row == 21
    emulator.feed(b"\x1b[2;1H\x1b[1A")
    assert emulator.snapshot().cursor_row == 0


def test_combining_marks_join_the_wide_cell_and_are_bounded() -> None:
    emulator = feed("中\u0301")
    assert emulator.snapshot().rows[0].cells[:2] == ("中\u0301", "")
    emulator = feed("a" + "\u0300" * 100)
    assert len(emulator.snapshot().rows[0].cells[0]) == 32
    assert lines(feed("\u0301x"))[0] == "x"  # nothing to join at column 0


def test_insert_mode_with_wide_characters() -> None:
    emulator = feed("abc\x1b[1;2H\x1b[4h中")
    assert emulator.snapshot().rows[0].cells[:5] == ("a", "中", "", "b", "c")
    emulator = feed("中文\x1b[1;2H\x1b[1@")
    assert emulator.snapshot().rows[0].cells[:5] == (" ", " ", " ", "文", "")


def test_wide_character_pushed_off_the_edge_by_ich() -> None:
    emulator = feed("\x1b[1;79H中\x1b[1;1H\x1b[@")
    row = emulator.snapshot().rows[0]
    assert row.cells[-2:] == (" ", " ")


def test_rep_repeats_wide_and_is_bounded() -> None:
    assert lines(feed("中\x1b[2b"))[0] == "中中中"
    emulator = feed("x\x1b[99999999b")  # capped at 65535 repetitions
    assert lines(emulator)[23] == "x" * (65536 % 80)


def test_ed_variants() -> None:
    base = "111\r\n222\r\n333\x1b[2;2H"
    assert lines(feed(base + "\x1b[J"))[:3] == ["111", "2", ""]
    assert lines(feed(base + "\x1b[1J"))[:3] == ["", "  2", "333"]
    assert lines(feed(base + "\x1b[3J"))[:3] == ["111", "222", "333"]
    assert lines(feed(base + "\x1b[?2J"))[:3] == ["", "", ""]


# --- DECCOLM ---------------------------------------------------------------------------------
@pytest.mark.parametrize("final", ["h", "l"])
def test_deccolm_clears_homes_and_resets_margins_but_keeps_the_size(final: str) -> None:
    # A VT100 switching between 80 and 132 columns; the switch itself is not made: an
    # application must not resize the session.
    emulator = feed(f"line1\r\nline2\r\n\x1b[44m\x1b[2;4r\x1b[3;5Habc\x1b[?3{final}", 20, 5)
    fb = emulator.snapshot()
    assert (emulator.width, emulator.height, fb.width, fb.height) == (20, 5, 20, 5)
    assert lines(emulator) == [""] * 5
    assert (fb.cursor_row, fb.cursor_col) == (0, 0)
    # Cleared in the background colour, like any erase (BCE).
    assert {rend.bg for row in fb.rows for rend in row.renditions} == {palette_color(4)}
    # The margins are gone: line feeds from the top scroll the whole screen.
    emulator.feed(("\x1b[m" + "\r\n".join("abcdefg")).encode())
    assert lines(emulator) == ["c", "d", "e", "f", "g"]


def test_deccolm_in_origin_mode_homes_to_the_top_of_the_screen() -> None:
    emulator = feed("\x1b[2;4r\x1b[?6h\x1b[?3hX", 10, 5)
    assert lines(emulator) == ["X", "", "", "", ""]


def test_snapshot_says_which_screen_shows() -> None:
    emulator = Emulator(10, 3)
    assert not emulator.snapshot().alternate_screen
    for enter, leave in ((b"\x1b[?1049h", b"\x1b[?1049l"), (b"\x1b[?47h", b"\x1b[?47l")):
        emulator.feed(enter)
        assert emulator.snapshot().alternate_screen
        emulator.feed(leave)
        assert not emulator.snapshot().alternate_screen
