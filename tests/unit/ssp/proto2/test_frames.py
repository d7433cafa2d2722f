"""Protocol-2 frames (ssp.proto2.frames): escape sequences that take a client emulator from the
screen it acknowledged to the current one.

Our own emulator (termemu) stands in for upstream's client emulator: a frame applied to the
client's screen must reproduce the server's screen, must make the emulator answer nothing, and
must cost about what upstream sends.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssp.proto2.frames import new_frame
from ssp.screen import (
    BOLD,
    DEFAULT_RENDITION,
    DIM,
    INVERSE,
    ITALIC,
    STRIKETHROUGH,
    UNDERLINE,
    Clipboard,
    Framebuffer,
    Modes,
    Rendition,
    Row,
    intern_rendition,
    palette_color,
    rgb_color,
)
from ssp.width import char_width
from termemu.emulator import Emulator

# Anything a frame must never contain: queries the client would answer (DA, DSR, DECRQM,
# window reports, DECRQSS...), and REP, which upstream's client does not implement.
_FORBIDDEN = re.compile(
    rb"\x1b\[[0-9;?>=]*[cnbt]"  # DA, DSR, REP, window ops (SD is T, upper case)
    rb"|\x1b\[[0-9;?]*\$p"  # DECRQM
    rb"|\x1bP"  # DCS (DECRQSS, XTGETTCAP)
    rb"|\x1b\[[0-9;]*x"  # DECREQTPARM
    rb"|\x1bZ"  # DECID
    rb"|\x1b\]52;[^;]*;\?"  # clipboard query
)

_MODE_FIELDS_CARRIED = (
    "bracketed_paste",
    "focus_events",
    "reverse_video",
    "cursor_visible",
    "mouse_reporting",
    "mouse_encoding",
)


# --- the client ------------------------------------------------------------------------------
class Client:
    """A stock client's emulator, as far as frames go: resize on the Resize instruction, then
    feed the frame."""

    def __init__(self, width: int = 80, height: int = 24) -> None:
        self.emulator = Emulator(width, height)
        self.frames: list[bytes] = []

    def show(self, old: Framebuffer | None, new: Framebuffer) -> bytes:
        if (self.emulator.width, self.emulator.height) != (new.width, new.height):
            self.emulator.resize(new.width, new.height)
        frame = new_frame(old, new)
        check_frame(frame)
        self.emulator.feed(frame)
        assert self.emulator.take_replies() == b"", "the client answered a frame"
        self.frames.append(frame)
        return frame

    def assert_shows(self, expected: Framebuffer) -> None:
        assert_same_screen(self.emulator.snapshot(), expected)


def check_frame(frame: bytes) -> None:
    match = _FORBIDDEN.search(frame)
    assert match is None, f"frame contains {match.group()!r}" if match else ""
    frame.decode("utf-8")  # strict: a frame is valid UTF-8


def assert_same_screen(got: Framebuffer, expected: Framebuffer) -> None:
    assert (got.width, got.height) == (expected.width, expected.height)
    for y, (row, want) in enumerate(zip(got.rows, expected.rows, strict=True)):
        assert row.cells == want.cells, f"row {y}: {row.cells!r} != {want.cells!r}"
        assert row.renditions == want.renditions, f"row {y} renditions"
    assert (got.cursor_row, got.cursor_col) == (expected.cursor_row, expected.cursor_col)
    for name in _MODE_FIELDS_CARRIED:
        assert getattr(got.modes, name) == getattr(expected.modes, name), name
    assert got.title == expected.title
    assert got.icon_name == expected.icon_name
    if expected.clipboard is not None:
        assert got.clipboard is not None
        assert got.clipboard.data == expected.clipboard.data


def roundtrip(old: Framebuffer, new: Framebuffer) -> tuple[bytes, bytes]:
    """Paint `old` on a fresh client, then take it to `new`; both must show exactly."""
    client = Client(old.width, old.height)
    first = client.show(None, old)
    client.assert_shows(old)
    second = client.show(old, new)
    client.assert_shows(new)
    return first, second


def server(width: int = 80, height: int = 24) -> Emulator:
    return Emulator(width, height)


def screen_of(data: bytes, width: int = 80, height: int = 24) -> Framebuffer:
    emulator = server(width, height)
    emulator.feed(data)
    return emulator.snapshot()


# --- hand cases --------------------------------------------------------------------------------
_WORDS = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
]


def lines_of_text(start: int, count: int) -> bytes:
    """Numbered lines of text 80 columns wide, each after a CR LF but the very first. Their
    words differ from line to line, as real text does, so a line matches only itself."""
    lines = [
        " ".join([f"{n:04d}"] + [_WORDS[(n * 5 + i * 3) % len(_WORDS)] for i in range(20)])[
            :80
        ].encode()
        for n in range(start, start + count)
    ]
    return b"\r\n" * (start > 0) + b"\r\n".join(lines)


def full_screen_text(emulator: Emulator, lines: int, start: int = 0) -> None:
    emulator.feed(lines_of_text(start, lines))


@pytest.mark.parametrize(
    "query", [b"\x1b[c", b"\x1b[>c", b"\x1b[6n", b"\x1b[5n", b"\x1b[3b", b"\x1b[18t", b"\x1bZ"]
)
def test_the_frame_check_rejects_queries_and_rep(query: bytes) -> None:
    with pytest.raises(AssertionError):
        check_frame(b"abc" + query + b"def")


def test_unchanged_screen_is_an_empty_frame() -> None:
    fb = screen_of(b"\x1b[1;31mhello\x1b[0m world\r\n$ ")
    assert new_frame(fb, fb) == b""
    assert new_frame(fb, fb.copy()) == b""


def test_typing_one_character_costs_a_byte_or_so() -> None:
    emulator = server()
    emulator.feed(b"user@host:~$ ")
    old = emulator.snapshot()
    emulator.feed(b"l")
    new = emulator.snapshot()
    _, frame = roundtrip(old, new)
    assert frame == b"l"  # no move: the cursor is where the character goes


def test_typing_in_colour_and_deleting() -> None:
    emulator = server()
    emulator.feed(b"$ \x1b[32mgit\x1b[0m")
    old = emulator.snapshot()
    emulator.feed(b"\x1b[32ms\x1b[0m")
    new = emulator.snapshot()
    _, frame = roundtrip(old, new)
    assert len(frame) <= 12, frame
    emulator.feed(b"\b \b")  # what a shell sends for backspace
    newer = emulator.snapshot()
    _, frame = roundtrip(new, newer)
    assert len(frame) <= 6, frame


def test_one_line_scroll_of_a_full_screen_costs_about_one_row() -> None:
    emulator = server()
    full_screen_text(emulator, 24)
    old = emulator.snapshot()
    full_screen_text(emulator, 1, start=24)
    new = emulator.snapshot()
    assert new.rows[0] == old.rows[1]
    _, frame = roundtrip(old, new)
    row_text = len(new.rows[-1].text.rstrip())
    assert len(frame) <= row_text + 12, (len(frame), frame)


def test_scroll_by_several_lines_and_within_a_region() -> None:
    emulator = server()
    full_screen_text(emulator, 24)
    old = emulator.snapshot()
    full_screen_text(emulator, 7, start=24)
    new = emulator.snapshot()
    _, frame = roundtrip(old, new)
    assert len(frame) <= 7 * 81 + 20, len(frame)

    # A pager: text scrolls in rows 0-22 above a status line that stays.
    pager = server()
    pager.feed(b"\x1b[24;1H\x1b[7m-- status --\x1b[m\x1b[1;23r\x1b[H")
    full_screen_text(pager, 23)
    old = pager.snapshot()
    pager.feed(b"\x1b[23;1H\r\nthe new line")
    new = pager.snapshot()
    assert new.rows[0] == old.rows[1] and new.rows[23] == old.rows[23]
    _, frame = roundtrip(old, new)
    assert len(frame) <= 40, frame

    # Scrolling back: rows move down, a line appears at the top.
    pager.feed(b"\x1b[H\x1bMthe line above")
    newer = pager.snapshot()
    _, frame = roundtrip(new, newer)
    assert len(frame) <= 40, frame


def test_status_line_update() -> None:
    emulator = server()
    full_screen_text(emulator, 23)
    emulator.feed(b"\x1b[24;1H\x1b[44;37m[0] 0:bash*   12:00 \x1b[K\x1b[m\x1b[10;5H")
    old = emulator.snapshot()
    emulator.feed(b"\x1b7\x1b[24;15H\x1b[44;37m12:01\x1b[m\x1b8")
    new = emulator.snapshot()
    _, frame = roundtrip(old, new)
    assert len(frame) <= 30, frame


def test_clear_screen_is_one_erase() -> None:
    emulator = server()
    full_screen_text(emulator, 24)
    old = emulator.snapshot()
    emulator.feed(b"\x1b[H\x1b[2J$ ")
    new = emulator.snapshot()
    _, frame = roundtrip(old, new)
    assert len(frame) <= 16, frame


def test_resize_repaints_from_a_cleared_screen() -> None:
    emulator = server()
    full_screen_text(emulator, 24)
    old = emulator.snapshot()
    emulator.resize(60, 30)
    emulator.feed(b"\r\nafter the resize")
    new = emulator.snapshot()
    client = Client(80, 24)
    client.show(None, old)
    frame = client.show(old, new)
    client.assert_shows(new)
    assert frame.startswith(b"\x1b[r\x1b[0m\x1b[H\x1b[2J")
    # Smaller, then the same size again (a frame from the resized state is a diff).
    emulator.resize(20, 5)
    newer = emulator.snapshot()
    client.show(new, newer)
    client.assert_shows(newer)
    emulator.feed(b"x")
    newest = emulator.snapshot()
    assert client.show(newer, newest) == b"x"
    client.assert_shows(newest)


def test_renditions_and_colours() -> None:
    emulator = server()
    emulator.feed(
        b"\x1b[1mbold\x1b[0m \x1b[2mdim\x1b[0m \x1b[3mitalic\x1b[0m \x1b[4munder\x1b[0m "
        b"\x1b[5mblink\x1b[0m \x1b[7minverse\x1b[0m \x1b[8mhidden\x1b[0m \x1b[9mstrike\x1b[0m\r\n"
        b"\x1b[31mred\x1b[42mgreen-bg\x1b[91mbright\x1b[104mbright-bg\x1b[0m "
        b"\x1b[38;5;196m256\x1b[48;5;21mbg256\x1b[0m "
        b"\x1b[38;2;1;2;3mrgb\x1b[48;2;250;251;252mrgb-bg\x1b[1;3;4mall\x1b[0m\r\n"
        b"\x1b[44mblue line to the end\x1b[K\x1b[0m\r\n"
        b"\x1b[45m   \x1b[0m\x1b[7m   \x1b[0m"
    )
    fb = emulator.snapshot()
    _, frame = roundtrip(Framebuffer(), fb)
    assert b"38;2;1;2;3" in frame and b"48;2;250;251;252" in frame
    assert b"38;5;196" in frame and b"48;5;21" in frame
    assert b"91" in frame and b"104" in frame


def test_wide_and_combining_characters() -> None:
    emulator = server(10, 3)
    emulator.feed("漢字e\u0301x\r\n".encode())
    emulator.feed("12345678漢".encode())  # a wide character ending at the last column
    emulator.feed("\r\n123456789漢".encode())  # no room: it wraps (the screen scrolls)
    fb = emulator.snapshot()
    assert fb.rows[0].cells[-2:] == ("漢", "") and fb.rows[2].cells[:2] == ("漢", "")
    roundtrip(Framebuffer(width=10, height=3), fb)
    # Overwrite half of a wide character: the client must blank its other half.
    emulator.feed(b"\x1b[1;2Hab")
    changed = emulator.snapshot()
    roundtrip(fb, changed)


def test_last_column_and_corner() -> None:
    emulator = server(10, 3)
    emulator.feed(b"0123456789\x1b[2;1Habcdefghij\x1b[3;1HABCDEFGHIJ")
    fb = emulator.snapshot()
    client = Client(10, 3)
    client.show(None, fb)
    client.assert_shows(fb)
    emulator.feed(b"\x1b[1;10HX\x1b[2;10HY")
    new = emulator.snapshot()
    client.show(fb, new)
    client.assert_shows(new)
    emulator.feed(b"\x1b[1;5Hz")
    newer = emulator.snapshot()
    client.show(new, newer)
    client.assert_shows(newer)


def test_blank_runs_inside_a_changed_row_are_erased() -> None:
    emulator = server()
    full_screen_text(emulator, 3)
    emulator.feed(b"\x1b[2;1H")
    old = emulator.snapshot()
    # A few words on a coloured row: EL in the colour, then the words.
    emulator.feed(b"\x1b[44m\x1b[2K\x1b[0mA\x1b[2;40HB\x1b[1;1H")
    new = emulator.snapshot()
    _, frame = roundtrip(old, new)
    assert b"\x1b[K" in frame and len(frame) <= 24, frame
    # A blank run between text: ECH, not 38 spaces.
    emulator.feed(b"\x1b[3;2H" + b" " * 38 + b"\x1b[H")
    newer = emulator.snapshot()
    _, frame = roundtrip(new, newer)
    assert b"\x1b[38X" in frame and len(frame) <= 16, frame


def test_a_cell_starting_with_a_combining_mark_is_drawn_on_a_no_break_space() -> None:
    """As upstream's client keeps such a cell (its "fallback"): printed alone, the mark would
    join the cell before and every later cell would land one column left."""
    rendition = (DEFAULT_RENDITION,) * 3
    new = Framebuffer(width=3, height=1, rows=[Row(("a", "\u0301", "b"), rendition)])
    client = Client(3, 1)
    client.show(None, new)
    assert client.emulator.snapshot().rows[0].cells == ("a", "\u00a0\u0301", "b")


def test_cursor_title_bell_modes_clipboard() -> None:
    emulator = server()
    emulator.feed(b"\x1b]0;both\x07")
    old = emulator.snapshot()
    emulator.feed(
        b"\x1b]2;window\x07\x07\x07\x1b[?25l\x1b[?2004h\x1b[?1002h\x1b[?1006h\x1b[?1004h"
        b"\x1b[?5h\x1b]52;c;aGVsbG8=\x07\x1b[5;7H"
    )
    new = emulator.snapshot()
    first, frame = roundtrip(old, new)
    assert b"\x1b]0;both\x07" in first
    assert b"\x1b]2;window\x07" in frame and b"\x1b]1;" not in frame
    assert frame.count(b"\x07") == 3  # one BEL for two bells, and the two OSC terminators
    assert b"\x1b]52;c;aGVsbG8=\x07" in frame
    for mode in (b"?25l", b"?2004h", b"?1002h", b"?1006h", b"?1004h", b"?5h"):
        assert b"\x1b[" + mode in frame
    emulator.feed(b"\x1b[?1000h\x1b[?1006l\x1b[?1002l\x1b[?25h")
    newer = emulator.snapshot()
    _, frame = roundtrip(new, newer)
    assert b"\x1b[?1000h" in frame and b"\x1b[?1006l" in frame and b"\x1b[?25h" in frame
    assert new_frame(newer, newer) == b""


def test_app_cursor_keys_are_not_sent() -> None:
    """Upstream's client keeps its terminal in application cursor mode; the server
    translates the keys, so the mode is not part of a frame."""
    old = screen_of(b"")
    new = screen_of(b"\x1b[?1h\x1b=")
    assert new.modes.app_cursor_keys
    assert new_frame(old, new) == b""


def test_titles_are_sanitized() -> None:
    old = Framebuffer()
    new = Framebuffer(title="a\x07b\x1b]c", icon_name="a\x07b\x1b]c")
    frame = new_frame(old, new)
    assert frame == b"\x1b]0;ab]c\x07"


def test_pen_is_default_after_every_frame() -> None:
    """The next frame relies on it: a typed character after coloured output needs no SGR."""
    emulator = server()
    emulator.feed(b"\x1b[41mred bg\x1b[K")
    old = emulator.snapshot()
    emulator.feed(b"\x1b[0m\r\nplain")
    new = emulator.snapshot()
    client = Client()
    client.show(None, old)
    frame = client.show(old, new)
    client.assert_shows(new)
    assert frame.endswith(b"plain") or frame.endswith(b"\x1b[m"), frame
    client.emulator.feed(b"?")  # printed in the client's pen: must be the default
    assert client.emulator.snapshot().rows[1].renditions[5] == DEFAULT_RENDITION


# --- random framebuffers -----------------------------------------------------------------------
_RENDITIONS = [
    DEFAULT_RENDITION,
    intern_rendition(0, 0, BOLD),
    intern_rendition(0, 0, DIM | ITALIC),
    intern_rendition(0, 0, UNDERLINE | STRIKETHROUGH),
    intern_rendition(0, 0, INVERSE),
    intern_rendition(palette_color(1), 0, 0),
    intern_rendition(palette_color(9), palette_color(4), BOLD),
    intern_rendition(0, palette_color(2), 0),
    intern_rendition(0, palette_color(200), 0),
    intern_rendition(rgb_color(10, 20, 30), rgb_color(0, 0, 0), UNDERLINE),
    intern_rendition(0, rgb_color(40, 50, 60), 0),
]
_NARROW = [*"abcxyz019 -_|#", "é", "ß", "λ"]
_WIDE = ["漢", "字", "가", "＃"]
_MARKS = ["\u0301", "\u0308", "\u20dd"]
assert all(char_width(c) == 2 for c in _WIDE) and all(char_width(m) == 0 for m in _MARKS)


@st.composite
def rows(draw: st.DrawFn, width: int) -> Row:
    cells: list[str] = []
    renditions: list[Rendition] = []
    blank = draw(st.sampled_from(_RENDITIONS))
    length = draw(st.integers(0, width))
    while len(cells) < length:
        rendition = draw(st.sampled_from(_RENDITIONS))
        kind = draw(st.sampled_from(["narrow", "narrow", "space", "wide", "mark"]))
        if kind == "wide" and len(cells) + 2 <= width:
            cells += [draw(st.sampled_from(_WIDE)), ""]
            renditions += [rendition, rendition]
            continue
        char = " " if kind == "space" else draw(st.sampled_from(_NARROW))
        if kind == "mark":
            char += draw(st.sampled_from(_MARKS))
        cells.append(char)
        renditions.append(rendition)
    cells += [" "] * (width - len(cells))
    renditions += [blank] * (width - len(renditions))
    return Row(tuple(cells), tuple(renditions))


@st.composite
def framebuffers(draw: st.DrawFn, width: int, height: int) -> Framebuffer:
    screen_rows = draw(st.lists(rows(width), min_size=height, max_size=height))
    titles = st.sampled_from(["", "t", "vim main.py", "ünïcode 漢"])
    mouse = st.sampled_from([0, 9, 1000, 1002, 1003])
    encoding = st.sampled_from([0, 1005, 1006, 1015])
    return Framebuffer(
        width=width,
        height=height,
        rows=screen_rows,
        cursor_row=draw(st.integers(0, height - 1)),
        cursor_col=draw(st.integers(0, width - 1)),
        modes=Modes(
            bracketed_paste=draw(st.booleans()),
            focus_events=draw(st.booleans()),
            reverse_video=draw(st.booleans()),
            cursor_visible=draw(st.booleans()),
            mouse_reporting=draw(mouse),
            mouse_encoding=draw(encoding),
        ),
        title=draw(titles),
        icon_name=draw(titles),
        bell_count=draw(st.integers(0, 3)),
        clipboard=draw(st.none() | st.builds(Clipboard, st.just(1), st.just("c"), titles)),
    )


@st.composite
def screen_pairs(draw: st.DrawFn) -> tuple[Framebuffer, Framebuffer]:
    """Two screens, the second often an edit of the first (rows kept, shifted or changed)."""
    width = draw(st.integers(1, 12))
    height = draw(st.integers(1, 6))
    old = draw(framebuffers(width, height))
    new = draw(framebuffers(width, height))
    how = draw(st.sampled_from(["random", "edit", "scroll-up", "scroll-down"]))
    if how != "random" and height > 1:
        shift = draw(st.integers(1, height - 1))
        top = draw(st.integers(0, height - 1))
        kept = list(old.rows)
        if how == "scroll-up":
            kept = kept[:top] + kept[top + shift :] + kept[top : top + shift]
        elif how == "scroll-down":
            kept = kept[:top] + kept[len(kept) - shift :] + kept[top : len(kept) - shift]
        new_rows = [
            row if draw(st.integers(0, 3)) else fresh
            for row, fresh in zip(kept[:height], new.rows, strict=True)
        ]
        new.rows = new_rows
    return old, new


_FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FAST
@given(screen_pairs())
def test_random_frames_reproduce_the_screen(pair: tuple[Framebuffer, Framebuffer]) -> None:
    old, new = pair
    roundtrip(old, new)


@_FAST
@given(st.data())
def test_random_frames_across_a_resize(data: st.DataObject) -> None:
    old = data.draw(framebuffers(data.draw(st.integers(1, 10)), data.draw(st.integers(1, 5))))
    new = data.draw(framebuffers(data.draw(st.integers(1, 10)), data.draw(st.integers(1, 5))))
    client = Client(old.width, old.height)
    client.show(None, old)
    client.assert_shows(old)
    client.show(old, new)
    client.assert_shows(new)


# Output an application might write: drawn from what a shell, an editor and a pager send.
_OUTPUT = [
    b"hello",
    b"x",
    b" ",
    b"\r\n",
    b"\n",
    b"\r",
    b"\b",
    b"\t",
    "漢字".encode(),
    "e\u0301".encode(),
    b"\x1b[K",
    b"\x1b[1K",
    b"\x1b[J",
    b"\x1b[2J",
    b"\x1b[H",
    b"\x1b[3;4H",
    b"\x1b[2;5r",
    b"\x1b[r",
    b"\x1b[L",
    b"\x1b[M",
    b"\x1b[2@",
    b"\x1b[P",
    b"\x1b[3X",
    b"\x1b[S",
    b"\x1b[2T",
    b"\x1bM",
    b"\x1b[1;31m",
    b"\x1b[44m",
    b"\x1b[7m",
    b"\x1b[0m",
    b"\x1b[38;5;123m",
    b"\x1b[48;2;1;2;3m",
    b"\x1b[?25l",
    b"\x1b[?25h",
    b"\x1b]2;title\x07",
    b"\x1b]1;icon\x07",
    b"\x07",
    b"\x1b[?2004h",
    b"\x1b[?1000h",
    b"\x1b[?1006h",
    b"\x1b[?1000l",
    b"\x1b[4h",
    b"\x1b[4l",
    b"\x1b[?7l",
    b"\x1b[?7h",
    b"\x1b[6G",
    b"\x1b[4d",
    b"\x1b7",
    b"\x1b8",
]


@_FAST
@given(
    st.integers(1, 14),
    st.integers(1, 7),
    st.lists(st.sampled_from(_OUTPUT), max_size=40),
    st.lists(st.lists(st.sampled_from(_OUTPUT), max_size=12), min_size=1, max_size=4),
)
def test_frames_between_emulated_screens(
    width: int, height: int, before: list[bytes], steps: list[list[bytes]]
) -> None:
    """The daemon's case: a chain of frames between snapshots of a real emulator."""
    emulator = server(width, height)
    emulator.feed(b"".join(before))
    client = Client(width, height)
    shown: Framebuffer | None = None
    for step in [[], *steps]:
        emulator.feed(b"".join(step))
        current = emulator.snapshot()
        client.show(shown, current)
        client.assert_shows(current)
        shown = current


# --- costs ---------------------------------------------------------------------------------------
def measure() -> dict[str, int]:
    """Bytes of the typical frames, for bench: one typed character, a one-line scroll of a
    full 80x24 screen, a status line update, and a full repaint of a screen of text."""
    costs: dict[str, int] = {}
    emulator = server()
    emulator.feed(b"user@host:~$ ")
    old = emulator.snapshot()
    emulator.feed(b"l")
    costs["typed character"] = len(new_frame(old, emulator.snapshot()))

    emulator = server()
    full_screen_text(emulator, 24)
    old = emulator.snapshot()
    costs["full repaint, 80x24 text"] = len(new_frame(None, old))
    full_screen_text(emulator, 1, start=24)
    costs["one-line scroll, 80x24 text"] = len(new_frame(old, emulator.snapshot()))
    costs["  (one row of that text)"] = len(emulator.snapshot().rows[-1].text.rstrip())

    emulator.feed(b"\x1b[24;1H\x1b[44;37m[0] 0:bash*   12:00 \x1b[K\x1b[m\x1b[10;5H")
    old = emulator.snapshot()
    emulator.feed(b"\x1b7\x1b[24;15H\x1b[44;37m12:01\x1b[m\x1b8")
    costs["status line update"] = len(new_frame(old, emulator.snapshot()))
    return costs


def test_measure(capsys: pytest.CaptureFixture[str]) -> None:
    costs = measure()
    with capsys.disabled():
        print()
        for case, size in costs.items():
            print(f"  proto2 frame, {case}: {size} bytes")
    assert costs["typed character"] <= 12
    assert costs["one-line scroll, 80x24 text"] <= costs["  (one row of that text)"] + 12
    assert costs["status line update"] <= 30
    assert costs["full repaint, 80x24 text"] <= 24 * 82 + 40
