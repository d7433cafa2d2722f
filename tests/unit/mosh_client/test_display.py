"""The display, judged by a terminal: whatever `Display` writes is fed to the server's own
emulator (an xterm-like model) of the same size, whose screen must then equal the frame drawn."""

from __future__ import annotations

import dataclasses
import time
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyte import modes as mo

from mosh_client.display import Display, find_scroll, sgr
from ssp.screen import (
    BOLD,
    CHOICE_MODES,
    DEFAULT_RENDITION,
    FLAG_MODES,
    INVERSE,
    UNDERLINE,
    ChoiceMode,
    Clipboard,
    FlagMode,
    Framebuffer,
    Modes,
    Rendition,
    Row,
    blank_row,
    intern_rendition,
    palette_color,
    rgb_color,
)
from ssp.width import char_width
from termemu.emulator import Emulator

PREFIX = "[mosh] "


# --- helpers ---------------------------------------------------------------------------------
class Screen:
    """A Display wired to an emulated terminal."""

    def __init__(self, width: int, height: int, **kwargs: object) -> None:
        self.display = Display(**kwargs)  # type: ignore[arg-type]
        self.term = Emulator(width, height)
        self.term.feed(self.display.open())

    def draw(self, frame: Framebuffer) -> bytes:
        out = self.display.draw(frame)
        self.term.feed(out)
        return out

    def assert_shows(self, frame: Framebuffer, prefix: str = PREFIX) -> None:
        shown = self.term.snapshot()
        for y, (got, want) in enumerate(zip(shown.rows, frame.rows, strict=True)):
            assert got == want, (
                f"row {y}: {got.cells} {got.renditions} != {want.cells} {want.renditions}"
            )
        assert (shown.cursor_row, shown.cursor_col) == (
            frame.cursor_row,
            min(frame.cursor_col, frame.width - 1),
        )
        assert shown.modes == frame.modes
        assert shown.title == prefix + frame.title
        assert shown.icon_name == prefix + frame.icon_name


def text_row(text: str, width: int, rendition: Rendition = DEFAULT_RENDITION) -> Row:
    text = text[:width].ljust(width)
    return Row(tuple(text), (rendition,) * width)


def text_frame(
    lines: list[str], width: int = 80, height: int = 24, **kwargs: object
) -> Framebuffer:
    rows = [text_row(line, width) for line in lines]
    rows += [blank_row(width)] * (height - len(rows))
    return Framebuffer(width=width, height=height, rows=rows, **kwargs)  # type: ignore[arg-type]


def full_screen_of_text(width: int = 80, height: int = 24, seed: int = 0) -> Framebuffer:
    lines = [
        "".join(chr(33 + (seed * 7 + y * 13 + x * 5) % 90) for x in range(width - y % 7))
        for y in range(height)
    ]
    return text_frame(lines, width, height)


def emulated(width: int, height: int, data: bytes) -> Framebuffer:
    source = Emulator(width, height)
    source.feed(data)
    return source.snapshot()


# --- strategies ------------------------------------------------------------------------------
def _normalize(cell: str) -> str:
    """The form the emulator stores a base + combining mark in (NFC when it keeps the width)."""
    base, marks = cell[0], cell[1:]
    for mark in marks:
        joined = base + mark
        if unicodedata.combining(mark):
            normal = unicodedata.normalize("NFC", joined)
            if normal[:1] and char_width(normal[0]) == char_width(base[0]):
                joined = normal
        base = joined
    return base


NARROW = st.sampled_from([*"abcxyzAZ09~!#-", "é", "ß", "Ж", "λ", "→", "─", "█"])
WIDE = st.sampled_from(["中", "文", "한", "😀", "あ", "👍\ufe0f", "中\u0301"])
COMBINING = st.sampled_from(["x\u0301", "e\u0301", "a\u20dd", "o\u0308\u0323", "n\u0303"])
COLOR = st.one_of(
    st.just(0),
    st.integers(0, 15).map(palette_color),
    st.integers(16, 255).map(palette_color),
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).map(
        lambda rgb: rgb_color(*rgb)
    ),
)
RENDITION = st.one_of(
    st.just(DEFAULT_RENDITION),
    st.builds(intern_rendition, st.just(0), COLOR, st.just(0)),  # what an erase produces
    st.builds(intern_rendition, COLOR, COLOR, st.integers(0, 255)),
)


@st.composite
def rows(draw: st.DrawFn, width: int) -> Row:
    cells: list[str] = []
    rends: list[Rendition] = []
    while len(cells) < width:
        kind = draw(st.sampled_from(["blank", "blank", "narrow", "narrow", "wide", "combining"]))
        rendition = draw(RENDITION)
        count = draw(st.integers(1, max(1, width // 2)))
        for _ in range(count):
            if len(cells) >= width:
                break
            if kind == "wide" and len(cells) + 1 < width:
                cells += [_normalize(draw(WIDE)), ""]
                rends += [rendition, rendition]
                continue
            if kind == "combining":
                cell = _normalize(draw(COMBINING))
            elif kind == "blank":
                cell = " "
            else:
                cell = draw(NARROW)
            cells.append(cell)
            rends.append(rendition)
    return Row(tuple(cells), tuple(rends))


MODES = st.builds(
    Modes,
    **{flag.name: st.booleans() for flag in FLAG_MODES},
    **{choice.name: st.sampled_from((0, *choice.numbers)) for choice in CHOICE_MODES},
)
TITLE = st.text(st.sampled_from("abc XYZ-:/é中"), max_size=12)


@st.composite
def frames(
    draw: st.DrawFn, width: int, height: int, previous: Framebuffer | None = None
) -> Framebuffer:
    if previous is None:
        new_rows = [draw(rows(width)) for _ in range(height)]
        modes, title, icon, bell = Modes(), "", "", 0
    else:
        old = previous.rows
        change = draw(st.sampled_from(["new", "scroll", "region", "cells", "rows", "none"]))
        if change == "new":
            new_rows = [draw(rows(width)) for _ in range(height)]
        elif change == "scroll" and height > 1:
            n = draw(st.integers(1, height - 1))
            new_rows = old[n:] + [draw(rows(width)) for _ in range(n)]
        elif change == "region" and height > 2:
            top = draw(st.integers(0, height - 2))
            bottom = draw(st.integers(top + 1, height - 1))
            n = draw(st.integers(1, bottom - top))
            fresh = [draw(rows(width)) for _ in range(n)]
            new_rows = old[:top] + old[top + n : bottom + 1] + fresh + old[bottom + 1 :]
        elif change == "cells":
            new_rows = list(old)
            for _ in range(draw(st.integers(1, 3))):
                y = draw(st.integers(0, height - 1))
                donor = draw(rows(width))
                x = draw(st.integers(0, width - 1))
                cells, rends = list(new_rows[y].cells), list(new_rows[y].renditions)
                cells[x:], rends[x:] = donor.cells[x:], donor.renditions[x:]
                # Keep the row valid: no orphan right half at x, no wide char losing its half.
                if cells[x] == "" and (x == 0 or char_width(cells[x - 1][:1] or " ") != 2):
                    cells[x] = " "
                elif cells[x] == "":
                    rends[x] = rends[x - 1]  # both halves of a wide character share one
                if x and char_width(cells[x - 1][:1] or " ") == 2 and cells[x] != "":
                    cells[x - 1] = " "
                new_rows[y] = Row(tuple(cells), tuple(rends))
        elif change == "rows":
            new_rows = list(old)
            for y in draw(st.lists(st.integers(0, height - 1), max_size=height)):
                new_rows[y] = draw(rows(width))
        else:
            new_rows = list(old)
        modes = draw(st.one_of(st.just(previous.modes), MODES))
        title = draw(st.one_of(st.just(previous.title), TITLE))
        icon = draw(st.one_of(st.just(previous.icon_name), st.just(title), TITLE))
        bell = previous.bell_count + draw(st.sampled_from([0, 0, 1, 3]))
    return Framebuffer(
        width=width,
        height=height,
        rows=new_rows,
        cursor_row=draw(st.integers(0, height - 1)),
        cursor_col=draw(st.integers(0, width)),
        modes=modes,
        title=title,
        icon_name=icon,
        bell_count=bell,
    )


# --- the property tests ----------------------------------------------------------------------
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_frame_of_a_random_sequence_is_shown_exactly(data: st.DataObject) -> None:
    width = data.draw(st.integers(1, 14), label="width")
    height = data.draw(st.integers(1, 7), label="height")
    screen = Screen(width, height)
    frame = data.draw(frames(width, height))
    screen.draw(frame)
    screen.assert_shows(frame)
    bells = 0
    for _ in range(data.draw(st.integers(1, 8), label="steps")):
        previous = frame
        frame = data.draw(frames(width, height, previous))
        if data.draw(st.integers(0, 9)) == 0:
            screen.display.invalidate()
        out = screen.draw(frame)
        screen.assert_shows(frame)
        if frame.bell_count > previous.bell_count:
            bells += 1
        assert screen.term.screen.bell_count == bells
        # Redrawing what is already shown costs nothing.
        assert screen.display.draw(frame) == b""
        # A cursor hidden for drawing is shown again at the end.
        if b"\x1b[?25l" in out and frame.modes.cursor_visible:
            assert out.endswith(b"\x1b[?25h")


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_larger_screens(data: st.DataObject) -> None:
    width = data.draw(st.integers(20, 90), label="width")
    height = data.draw(st.integers(5, 30), label="height")
    screen = Screen(width, height)
    frame = data.draw(frames(width, height))
    screen.draw(frame)
    screen.assert_shows(frame)
    for _ in range(data.draw(st.integers(1, 4))):
        frame = data.draw(frames(width, height, frame))
        screen.draw(frame)
        screen.assert_shows(frame)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_frames_the_emulator_produces(data: st.DataObject) -> None:
    """Real application output: SGR soup, erases with coloured backgrounds, scrolling."""
    width = data.draw(st.integers(2, 30), label="width")
    height = data.draw(st.integers(2, 8), label="height")
    pieces = st.sampled_from(
        [
            b"hello",
            b"\r\n",
            b"\n",
            b"\x1b[31m",
            b"\x1b[1;44m",
            b"\x1b[0m",
            b"\x1b[48;5;200m",
            b"\x1b[38;2;10;20;30m",
            b"\x1b[7m",
            b"\x1b[K",
            b"\x1b[2J",
            b"\x1b[H",
            b"\x1b[3;4H",
            b"\x1b[5X",
            b"\x1b[2@",
            b"\x1b[P",
            b"\x1b[L",
            b"\x1b[M",
            b"\x1b[2S",
            b"\x1b[T",
            "中文".encode(),
            "x\u0301".encode(),
            b"\t",
            b"\x1b[2;5r",
            b"\x1b[r",
            b"\x1bM",
            b"\x1b[?1049h",
            b"\x1b[?1049l",
            b"\x1b[?25l",
            b"\x1b[?25h",
        ]
    )
    source = Emulator(width, height)
    screen = Screen(width, height)
    for _ in range(data.draw(st.integers(1, 6))):
        for piece in data.draw(st.lists(pieces, max_size=20)):
            source.feed(piece)
        frame = source.snapshot()
        screen.draw(frame)
        screen.assert_shows(frame)


# --- minimal output --------------------------------------------------------------------------
def test_identical_frame_emits_nothing() -> None:
    screen = Screen(80, 24)
    frame = full_screen_of_text()
    screen.draw(frame)
    assert len(screen.draw(frame)) <= 20
    assert screen.draw(frame.copy()) == b""


def test_one_changed_cell_is_cheap() -> None:
    screen = Screen(80, 24)
    frame = full_screen_of_text()
    frame.cursor_row, frame.cursor_col = 23, 10
    screen.draw(frame)
    changed = frame.copy()
    cells = list(changed.rows[7].cells)
    cells[40] = "@"
    changed.rows[7] = Row(tuple(cells), changed.rows[7].renditions)
    out = screen.draw(changed)
    assert len(out) < 30, out
    screen.assert_shows(changed)


def test_typing_at_the_cursor_is_one_byte() -> None:
    screen = Screen(80, 24)
    frame = text_frame(["$ ls"], cursor_row=0, cursor_col=4)
    screen.draw(frame)
    typed = text_frame(["$ lsx"], cursor_row=0, cursor_col=5)
    assert screen.draw(typed) == b"x"
    screen.assert_shows(typed)


def test_one_row_scroll_costs_far_less_than_a_repaint() -> None:
    screen = Screen(80, 24)
    frame = full_screen_of_text()
    full = screen.draw(frame)
    scrolled = frame.copy()
    scrolled.rows = [*frame.rows[1:], text_row("the new last line", 80)]
    out = screen.draw(scrolled)
    assert len(out) < 0.25 * len(full), (len(out), len(full))
    assert b"\x1b[2J" not in out
    screen.assert_shows(scrolled)


def test_scroll_above_a_fixed_status_line_uses_a_scroll_region() -> None:
    screen = Screen(80, 24)
    frame = full_screen_of_text()
    frame.rows[23] = text_row("-- STATUS --", 80, intern_rendition(0, palette_color(2), 0))
    screen.draw(frame)
    scrolled = frame.copy()
    scrolled.rows = [*frame.rows[2:23], text_row("one", 80), text_row("two", 80), frame.rows[23]]
    out = screen.draw(scrolled)
    assert b"\x1b[1;23r" in out and b"\x1b[r" in out
    assert len(out) < 80
    screen.assert_shows(scrolled)


def test_scroll_with_blank_rows_below_needs_no_scroll_region() -> None:
    screen = Screen(80, 24)
    frame = full_screen_of_text()
    frame.rows[23] = blank_row(80)
    screen.draw(frame)
    scrolled = frame.copy()
    scrolled.rows = [*frame.rows[1:23], text_row("output", 80), blank_row(80)]
    out = screen.draw(scrolled)
    assert b"r" not in out.replace(b"output", b"")
    assert len(out) < 40
    screen.assert_shows(scrolled)


def test_scroll_detection_ignores_a_scroll_that_does_not_pay() -> None:
    blank = blank_row(10)
    a, b = text_row("a", 10), text_row("b", 10)
    assert find_scroll([a, blank, blank], [blank, blank, b], 0, 2) == 0
    lines = [text_row(f"line {i} with text", 20) for i in range(6)]
    assert find_scroll(lines, [*lines[2:], blank, blank], 0, 5) == 2


def test_invalidate_forces_a_full_repaint() -> None:
    screen = Screen(80, 24)
    frame = full_screen_of_text()
    first = screen.draw(frame)
    screen.display.invalidate()
    screen.term.feed(b"\x1b[2J\x1b[5;5Hgarbage")  # what Ctrl-L is for
    again = screen.draw(frame)
    assert b"\x1b[2J" in again
    assert len(again) >= len(first) - 20
    screen.assert_shows(frame)


def test_resize_repaints_at_the_new_size() -> None:
    screen = Screen(20, 5)
    screen.draw(text_frame(["hello"], 20, 5))
    screen.display.invalidate()
    screen.term.resize(30, 8)
    bigger = text_frame(["hello", "world"], 30, 8)
    screen.draw(bigger)
    screen.assert_shows(bigger)


# --- renditions, erases, wide characters ------------------------------------------------------
def test_sgr_is_absolute_and_uses_the_short_colour_forms() -> None:
    assert sgr(DEFAULT_RENDITION) == "\x1b[0m"
    assert sgr(intern_rendition(palette_color(1), palette_color(4), BOLD)) == "\x1b[0;1;31;44m"
    assert sgr(intern_rendition(palette_color(9), palette_color(12), 0)) == "\x1b[0;91;104m"
    assert sgr(intern_rendition(palette_color(200), 0, UNDERLINE | INVERSE)) == (
        "\x1b[0;4;7;38;5;200m"
    )
    assert sgr(intern_rendition(rgb_color(1, 2, 3), rgb_color(4, 5, 6), 0)) == (
        "\x1b[0;38;2;1;2;3;48;2;4;5;6m"
    )
    assert sgr(intern_rendition(0, 0, 0xFF)) == "\x1b[0;1;2;3;4;5;7;8;9m"


def test_coloured_blank_tail_is_erased_with_its_background() -> None:
    blue = intern_rendition(0, palette_color(4), 0)
    frame = emulated(40, 3, b"\x1b[44mabc\x1b[K\r\n\x1b[0mdef")
    screen = Screen(40, 3)
    out = screen.draw(frame)
    assert b"\x1b[K" in out
    assert frame.rows[0].renditions[39] == blue
    screen.assert_shows(frame)
    # A default-coloured tail after a coloured one: the pen's background must change first.
    plain = emulated(40, 3, b"abc\r\n\x1b[0mdef")
    screen.draw(plain)
    screen.assert_shows(plain)


def test_long_interior_blank_run_uses_ech() -> None:
    screen = Screen(80, 2)
    screen.draw(text_frame(["x" * 80], 80, 2))
    gap = text_frame(["left" + " " * 60 + "right"], 80, 2)
    out = screen.draw(gap)
    assert b"X" in out and len(out) < 40
    screen.assert_shows(gap)


def test_underlined_blanks_are_written_not_erased() -> None:
    underlined = intern_rendition(0, 0, UNDERLINE)
    frame = Framebuffer(width=10, height=1, rows=[Row((" ",) * 10, (underlined,) * 10)])
    screen = Screen(10, 1)
    out = screen.draw(frame)
    assert b"\x1b[K" not in out
    screen.assert_shows(frame)


def test_wide_characters_are_written_once() -> None:
    frame = emulated(10, 2, "a中b文".encode())
    screen = Screen(10, 2)
    out = screen.draw(frame)
    assert out.count("中".encode()) == 1
    screen.assert_shows(frame)
    # A narrow character over the left half, then a wide one over two narrow ones.
    replaced = emulated(10, 2, "ax b文".encode())
    screen.draw(replaced)
    screen.assert_shows(replaced)
    again = emulated(10, 2, "a中b文".encode())
    screen.draw(again)
    screen.assert_shows(again)


def test_wide_character_in_the_last_two_columns() -> None:
    frame = emulated(6, 2, "abcd中".encode())
    screen = Screen(6, 2)
    screen.draw(frame)
    screen.assert_shows(frame)


def test_combining_marks_are_written_with_their_cell() -> None:
    frame = emulated(10, 1, "x\u0301 a\u20dd 中\u0301".encode())
    screen = Screen(10, 1)
    out = screen.draw(frame)
    assert "x\u0301".encode() in out
    screen.assert_shows(frame)


def test_emulator_combining_at_last_column_without_autowrap() -> None:
    term = Emulator(5, 1)
    term.feed("\x1b[?7l\x1b[1;5Hx\u0301".encode())
    assert term.snapshot().rows[0].cells[4] == "x\u0301"


def test_bottom_right_cell_does_not_scroll() -> None:
    frame = text_frame(["a" * 10] * 3, 10, 3, cursor_row=0, cursor_col=0)
    screen = Screen(10, 3)
    screen.draw(frame)
    screen.assert_shows(frame)
    assert mo.DECAWM not in screen.term.screen.mode


def test_control_characters_in_cells_never_reach_the_terminal() -> None:
    evil = Row(("a", "\x1b", "\x07", "\x9b", "b"), (DEFAULT_RENDITION,) * 5)
    frame = Framebuffer(
        width=5, height=1, rows=[evil], title="t\x1b]0;x\x07", icon_name="t\x1b]0;x\x07"
    )
    screen = Screen(5, 1, title_prefix="")
    out = screen.draw(frame)
    assert out.count(b"\x07") == 1  # only the OSC terminator
    assert "\x9b".encode() not in out
    shown = screen.term.snapshot()
    assert shown.rows[0].cells == ("a", " ", " ", " ", "b")
    assert shown.title == shown.icon_name == "t]0;x"
    assert screen.term.screen.bell_count == 0


# --- modes, titles, bell, clipboard --------------------------------------------------------------
def test_modes_are_forwarded_and_turned_off_by_close() -> None:
    screen = Screen(20, 3)
    modes = Modes(
        app_cursor_keys=True,
        app_keypad=True,
        bracketed_paste=True,
        focus_events=True,
        mouse_reporting=1002,
        mouse_encoding=1006,
    )
    frame = text_frame(["vim"], 20, 3, modes=modes)
    out = screen.draw(frame)
    for seq in (b"\x1b[?1h", b"\x1b=", b"\x1b[?2004h", b"\x1b[?1004h", b"\x1b[?1002h"):
        assert seq in out
    screen.assert_shows(frame)
    # Mouse mode switches: the old one off, the new one on.
    frame.modes = Modes(mouse_reporting=1003, mouse_encoding=1015)
    out = screen.draw(frame)
    assert b"\x1b[?1002l" in out and b"\x1b[?1003h" in out and b"\x1b[?1006l" in out
    screen.assert_shows(frame)
    frame.modes = modes
    screen.draw(frame)
    closing = screen.display.close()
    screen.term.feed(closing)
    for seq in (b"\x1b[?1l", b"\x1b>", b"\x1b[?2004l", b"\x1b[?1004l", b"\x1b[?1000l"):
        assert seq in closing
    term = screen.term.screen
    assert term.modes() == Modes()
    assert mo.DECAWM in term.mode


def test_close_switches_off_every_forwarded_mode_in_a_fixed_order() -> None:
    """The bytes close() writes for the modes, derived from ssp.screen's table: unchanged."""
    closing = Display().close()
    assert closing.startswith(
        b"\x1b[?1l\x1b>\x1b[?2004l\x1b[?1004l\x1b[?5l"
        b"\x1b[?1003l\x1b[?1002l\x1b[?1001l\x1b[?1000l\x1b[?9l"
        b"\x1b[?1015l\x1b[?1006l\x1b[?1005l"
    )


@pytest.mark.parametrize("flag", [f for f in FLAG_MODES if f.name != "cursor_visible"])
def test_each_forwarded_flag_reaches_the_terminal(flag: FlagMode) -> None:
    screen = Screen(10, 2)
    frame = text_frame(["x"], 10, 2)
    screen.draw(frame)
    frame.modes = dataclasses.replace(Modes(), **{flag.name: not flag.default})
    out = screen.draw(frame)
    expected = "\x1b=" if flag.name == "app_keypad" else f"\x1b[?{flag.number}h"
    assert out == expected.encode()
    screen.assert_shows(frame)  # the emulator, reading the same table, agrees


@pytest.mark.parametrize(("choice", "number"), [(c, n) for c in CHOICE_MODES for n in c.numbers])
def test_each_mouse_choice_reaches_the_terminal(choice: ChoiceMode, number: int) -> None:
    screen = Screen(10, 2)
    frame = text_frame(["x"], 10, 2)
    screen.draw(frame)
    frame.modes = dataclasses.replace(Modes(), **{choice.name: number})
    assert screen.draw(frame) == f"\x1b[?{number}h".encode()
    screen.assert_shows(frame)


def test_reverse_video_and_hidden_cursor() -> None:
    screen = Screen(10, 2)
    frame = text_frame(["x"], 10, 2, modes=Modes(reverse_video=True, cursor_visible=False))
    out = screen.draw(frame)
    assert b"\x1b[?5h" in out and b"\x1b[?25h" not in out  # hidden to draw, and it stays so
    screen.assert_shows(frame)
    frame.modes = Modes()
    assert screen.draw(frame) == b"\x1b[?5l\x1b[?25h"


def test_open_and_close() -> None:
    display = Display()
    opening = display.open()
    assert b"\x1b[?1049h" in opening and b"\x1b[?7l" in opening
    display.draw(text_frame(["x"]))
    closing = display.close()
    assert b"\x1b[?1049l" in closing and b"\x1b[?7h" in closing and b"\x1b[0m" in closing
    assert b"\x1b[?25h" in closing

    plain = Display(alternate_screen=False)
    assert b"1049" not in plain.open()
    assert b"1049" not in plain.close()


def test_close_without_alternate_screen_leaves_a_fresh_line() -> None:
    screen = Screen(20, 6, alternate_screen=False)
    screen.draw(text_frame(["$ exit", "logout"], 20, 6, cursor_row=0, cursor_col=0))
    screen.term.feed(screen.display.close())
    shown = screen.term.snapshot()
    assert (shown.cursor_row, shown.cursor_col) == (2, 0)
    assert shown.text_lines()[:2] == ["$ exit", "logout"]


def test_close_at_the_bottom_scrolls_to_a_fresh_line() -> None:
    screen = Screen(10, 3, alternate_screen=False)
    screen.draw(text_frame(["a", "b", "c"], 10, 3))
    screen.term.feed(screen.display.close())
    shown = screen.term.snapshot()
    assert shown.text_lines() == ["b", "c", ""]
    assert (shown.cursor_row, shown.cursor_col) == (2, 0)


def test_suspend_and_resume_redraws() -> None:
    screen = Screen(10, 3)
    frame = text_frame(["a", "b"], 10, 3, title="vim", icon_name="vim")
    screen.draw(frame)
    screen.term.feed(screen.display.close())
    screen.term.feed(b"$ fg\r\n")
    screen.term.feed(screen.display.open())
    out = screen.draw(frame)
    assert b"\x1b]0;[mosh] vim\x07" in out
    screen.assert_shows(frame)


def test_title_is_prefixed_and_sent_only_when_changed() -> None:
    screen = Screen(10, 2)
    frame = text_frame([], 10, 2, title="vim", icon_name="vim")
    assert b"\x1b]0;[mosh] vim\x07" in screen.draw(frame)
    assert screen.draw(frame) == b""
    frame.title = "vim: file"
    out = screen.draw(frame)
    assert out == b"\x1b]2;[mosh] vim: file\x07"
    screen.assert_shows(frame)


def test_empty_prefix_passes_the_title_as_is() -> None:
    screen = Screen(10, 2, title_prefix="")
    frame = text_frame([], 10, 2)
    assert b"\x1b]" not in screen.draw(frame)  # nothing to say: the user's title stays
    frame.title = frame.icon_name = "top"
    assert b"\x1b]0;top\x07" in screen.draw(frame)
    screen.assert_shows(frame, prefix="")


def test_bell_rings_once_per_increase() -> None:
    display = Display(title_prefix="")  # no title OSC, whose BEL terminator would confuse us
    display.open()
    frame = text_frame([], 10, 2, bell_count=5)
    assert b"\x07" not in display.draw(frame)  # bells from before we came: not ours to ring
    frame.bell_count = 8
    assert display.draw(frame).count(b"\x07") == 1
    assert b"\x07" not in display.draw(frame)


def test_clipboard_is_forwarded_once_per_serial() -> None:
    screen = Screen(10, 2)
    frame = text_frame([], 10, 2, clipboard=Clipboard(1, "c", "aGVsbG8="))
    out = screen.draw(frame)
    assert b"\x1b]52;c;aGVsbG8=\x07" in out
    assert b"52;" not in screen.draw(frame)
    clip = screen.term.screen.clipboard
    assert clip is not None and (clip.selection, clip.data) == ("c", "aGVsbG8=")
    frame.clipboard = Clipboard(2, "p", "d29ybGQ=")
    assert b"\x1b]52;p;d29ybGQ=\x07" in screen.draw(frame)


# --- performance -----------------------------------------------------------------------------
def _best_of(func: object, repeat: int = 50) -> float:
    assert callable(func)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def test_unchanged_large_frame_is_cheap() -> None:
    display = Display()
    display.open()
    frame = full_screen_of_text(200, 60)
    display.draw(frame)
    same = frame.copy()
    assert _best_of(lambda: display.draw(same)) < 0.0005
