"""72 measured cases where stock pyte 0.8.2 is wrong or raises, with the bytes and the right
answer (tmux 3.3a where it has an opinion, otherwise upstream mosh): this file is the record."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ssp.screen import (
    BLINK,
    BOLD,
    DIM,
    INVERSE,
    INVISIBLE,
    ITALIC,
    STRIKETHROUGH,
    UNDERLINE,
    Framebuffer,
    Rendition,
    palette_color,
    rgb_color,
)
from termemu.emulator import Emulator

Check = Callable[[Emulator, Framebuffer], None]
LINES6 = "L1\r\nL2\r\nL3\r\nL4\r\nL5\r\nL6"
A80 = "A" * 80


def run(data: str | bytes, width: int = 80, height: int = 24) -> tuple[Emulator, Framebuffer]:
    emulator = Emulator(width, height)
    emulator.feed(data.encode() if isinstance(data, str) else data)
    return emulator, emulator.snapshot()


def text(fb: Framebuffer, count: int | None = None) -> list[str]:
    lines = fb.text_lines()
    return lines if count is None else lines[:count]


def rend(fb: Framebuffer, row: int, col: int) -> Rendition:
    return fb.rows[row].renditions[col]


def cursor(fb: Framebuffer) -> tuple[int, int]:
    return fb.cursor_row, fb.cursor_col


def _c1(e: Emulator, fb: Framebuffer) -> None:
    assert text(fb, 2) == ["", "ALT"]


def _c2(e: Emulator, fb: Framebuffer) -> None:
    assert text(fb, 2) == ["main", ""]
    assert cursor(fb) == (1, 0)


def _c3(e: Emulator, fb: Framebuffer) -> None:
    assert text(fb, 2) == ["main", ""]


def _c7(e: Emulator, fb: Framebuffer) -> None:
    assert (fb.modes.mouse_reporting, fb.modes.mouse_encoding) == (1002, 1006)


def _c17(e: Emulator, fb: Framebuffer) -> None:
    assert fb.rows[0].text[:4] == "ABCD"
    assert rend(fb, 0, 0) == Rendition(palette_color(1), 0, 0)
    assert rend(fb, 0, 1) == Rendition(palette_color(1), palette_color(4), 0)
    assert rend(fb, 0, 2) == Rendition(palette_color(9), 0, 0)
    assert rend(fb, 0, 3) == Rendition(palette_color(9), palette_color(13), 0)


def _c18(e: Emulator, fb: Framebuffer) -> None:
    assert rend(fb, 0, 0) == Rendition(palette_color(196), 0, 0)
    assert rend(fb, 0, 1) == Rendition(palette_color(196), palette_color(21), 0)
    assert rend(fb, 0, 2) == Rendition(palette_color(1), 0, 0)


def _c21(e: Emulator, fb: Framebuffer) -> None:
    attrs = BOLD | ITALIC | UNDERLINE | BLINK | INVERSE | STRIKETHROUGH
    assert rend(fb, 0, 0) == Rendition(0, 0, attrs)


def _c22(e: Emulator, fb: Framebuffer) -> None:
    assert (rend(fb, 0, 0).attrs, rend(fb, 0, 1).attrs) == (DIM, INVISIBLE)


def _c24(e: Emulator, fb: Framebuffer) -> None:
    assert rend(fb, 0, 0).attrs == INVERSE
    assert fb.modes.reverse_video is False


def _c26(e: Emulator, fb: Framebuffer) -> None:
    assert text(fb, 1) == ["AB"]
    assert e.take_replies() in (b"", b"\x1b[?1;1R")  # DECXCPR or nothing


def _c28(e: Emulator, fb: Framebuffer) -> None:
    blue = Rendition(0, palette_color(4), 0)
    assert all(r == blue for row in fb.rows for r in row.renditions)


def _c31(e: Emulator, fb: Framebuffer) -> None:
    assert text(fb, 1) == ["中文x"]
    assert cursor(fb) == (0, 5)
    assert fb.rows[0].cells[:5] == ("中", "", "文", "", "x")


def _c32(e: Emulator, fb: Framebuffer) -> None:
    assert text(fb, 2) == ["A" * 79, "中"]
    assert cursor(fb) == (1, 2)


def _c33(e: Emulator, fb: Framebuffer) -> None:
    # The brief: overwriting half of a wide character blanks the other half (xterm does; tmux's
    # capture shows "中x", which no real terminal can display at those columns).
    assert fb.rows[0].cells[:3] == (" ", "x", " ")


def _c35(e: Emulator, fb: Framebuffer) -> None:
    assert fb.rows[0].text.rstrip() == "A\u200dBC ❤\ufe0f ok"
    assert fb.rows[0].cells[:5] == ("A\u200d", "B", "C", " ", "❤\ufe0f")


def _c37(e: Emulator, fb: Framebuffer) -> None:
    # The snapshot clamps the cursor; the pending wrap stays internal.
    assert cursor(fb) == (0, 79)
    assert e.screen.cursor.x == 80
    assert text(fb, 2) == [A80, ""]


def _c41(e: Emulator, fb: Framebuffer) -> None:
    assert text(fb, 2) == ["A" * 79 + "D", ""]
    assert cursor(fb) == (0, 79)


def _c58(e: Emulator, fb: Framebuffer) -> None:
    assert text(fb, 1) == ["   A" + " " * 75 + "B"]
    assert cursor(fb) == (0, 79)  # tmux says 80: the snapshot clamps a pending wrap


def _c59(e: Emulator, fb: Framebuffer) -> None:
    # tmux 3.3a has no CHT at all (its answer "Y" only shows that); xterm and mosh agree.
    assert text(fb, 1) == ["        Y       X"]
    assert cursor(fb) == (0, 9)


def _c62(e: Emulator, fb: Framebuffer) -> None:
    assert cursor(fb) == (2, 5)
    assert fb.rows[2].cells[4] == "X"
    assert rend(fb, 2, 4) == Rendition(0, 0, BOLD)


def _c64(e: Emulator, fb: Framebuffer) -> None:
    assert e.screen.savepoints == []
    e.feed(b"\x1b[5;5H\x1b8")
    assert cursor(e.snapshot()) == (0, 0)


def _c70(e: Emulator, fb: Framebuffer) -> None:
    assert e.take_replies() == b"\x1b[>1;10;0c"


def _c71(e: Emulator, fb: Framebuffer) -> None:
    assert e.take_replies() == b"\x1b[5;7R"


def _c72(e: Emulator, fb: Framebuffer) -> None:
    assert (fb.width, fb.height) == (80, 24)
    assert e.width == 80


def _lines(expected: list[str]) -> Check:
    def check(e: Emulator, fb: Framebuffer) -> None:
        assert text(fb, len(expected)) == expected

    return check


def _lines_at(expected: list[str], pos: tuple[int, int], first: int = 0) -> Check:
    def check(e: Emulator, fb: Framebuffer) -> None:
        assert text(fb)[first : first + len(expected)] == expected
        assert cursor(fb) == pos

    return check


def _modes(**expected: object) -> Check:
    def check(e: Emulator, fb: Framebuffer) -> None:
        for name, value in expected.items():
            assert getattr(fb.modes, name) == value, name

    return check


def _fields(**expected: object) -> Check:
    def check(e: Emulator, fb: Framebuffer) -> None:
        for name, value in expected.items():
            assert getattr(fb, name) == value, name

    return check


def _cell(row: int, col: int, char: str, rendition: Rendition) -> Check:
    def check(e: Emulator, fb: Framebuffer) -> None:
        assert fb.rows[row].cells[col] == char
        assert rend(fb, row, col) == rendition

    return check


CASES: list[tuple[int, str, Check]] = [
    (1, "main\r\n\x1b[?1049hALT", _c1),
    (2, "main\r\n\x1b[?1049hALT\x1b[?1049l", _c2),
    (3, "main\x1b[?47hA47\x1b[?47l\x1b[?1047hB\x1b[?1047l", _c3),
    (4, "\x1b[?1h", _modes(app_cursor_keys=True)),
    (5, "\x1b[?1h\x1b[?1l", _modes(app_cursor_keys=False)),
    (6, "\x1b[?2004h", _modes(bracketed_paste=True)),
    (7, "\x1b[?1000h\x1b[?1002h\x1b[?1006h", _c7),
    (8, "\x1b[?1003h\x1b[?1003l", _modes(mouse_reporting=0)),
    (9, "\x1b[?1004h", _modes(focus_events=True)),
    (10, "\x1b[?25l", _modes(cursor_visible=False)),
    (11, "\x1b[?25l\x1b[?25h", _modes(cursor_visible=True)),
    (12, "\x1b]0;T0\x07", _fields(title="T0", icon_name="T0")),
    (13, "\x1b]2;T2\x1b\\", _fields(title="T2")),
    (14, "\x1b]0;T0\x07\x1b]133;A\x07", _fields(title="T0", icon_name="T0")),
    (15, "\x1b]1;ICON\x07\x1b]10;?\x07\x1b]11;?\x07", _fields(icon_name="ICON", title="")),
    (16, "\x1b]52;c;aGVsbG8=\x07", lambda e, fb: _clipboard(fb, "c", "aGVsbG8=")),
    (17, "\x1b[31mA\x1b[44mB\x1b[0;91mC\x1b[105mD", _c17),
    (18, "\x1b[38;5;196mA\x1b[48;5;21mB\x1b[0;38;5;1mC", _c18),
    (
        19,
        "\x1b[38;2;1;2;3;48;2;250;128;0mX",
        _cell(0, 0, "X", Rendition(rgb_color(1, 2, 3), rgb_color(250, 128, 0), 0)),
    ),
    (20, "\x1b[38:2::255:0:0mX", _cell(0, 0, "X", Rendition(rgb_color(255, 0, 0), 0, 0))),
    (21, "\x1b[1;3;4;5;7;9mX", _c21),
    (22, "\x1b[2mF\x1b[0;8mH", _c22),
    (23, "\x1b[7mR\x1b[27mN", lambda e, fb: _attrs(fb, [INVERSE, 0])),
    (24, "\x1b[?5h\x1b[7mR\x1b[?5l", _c24),
    (25, "\x1b[?4mAB", lambda e, fb: _plain(fb, "AB")),
    (26, "\x1b[?6nAB", _c26),
    (27, "\x1b[>4;2mX", lambda e, fb: _plain(fb, "X")),
    (28, "\x1b[44m\x1b[2J", _c28),
    (29, "\x1b[44m" + "\r\n" * 30, _cell(23, 0, " ", Rendition(0, palette_color(4), 0))),
    (30, "ABC\r\x1b[7;4m\x1b[K", _cell(0, 0, " ", Rendition(0, 0, 0))),
    (31, "中文x", _c31),
    (32, "A" * 79 + "中", _c32),
    (33, "中\x1b[1;2Hx", _c33),
    # The mark joins the cell as written (tmux keeps it decomposed too, no NFC).
    (34, "e\u0301x", lambda e, fb: _cells_at(fb, ("e\u0301", "x"), (0, 2))),
    (35, "A\u200dBC ❤\ufe0f ok", _c35),
    (36, "A\x01BCD", _lines(["ABCD"])),
    (37, A80, _c37),
    (38, A80 + "B", _lines_at(["B"], (1, 1), first=1)),
    (39, A80 + "\x1b[K", _lines([A80])),  # tmux: a pending wrap makes EL erase nothing
    (40, A80 + "\nB", _lines_at(["", "B"], (2, 1), first=1)),
    (41, "\x1b[?7l" + A80 + "BCD", _c41),
    (42, LINES6 + "\x1b[2;4r\x1b[4;1H\n", _lines(["L1", "L3", "L4", "", "L5", "L6"])),
    (43, LINES6 + "\x1b[2;4r\x1b[2;1H\x1bM", _lines(["L1", "", "L2", "L3", "L5", "L6"])),
    (44, LINES6 + "\x1b[2;1H\x1b[L", _lines(["L1", "", "L2", "L3", "L4", "L5", "L6"])),
    (45, LINES6 + "\x1b[2;1H\x1b[M", _lines(["L1", "L3", "L4", "L5", "L6", ""])),
    (46, "A\x1b[1;1H\x1b[M", _lines(["", ""])),
    (47, "x\r\n" * 30 + "\x1b[23;1H\x1b[M", lambda e, fb: _last_rows(fb, ["", ""])),
    (48, LINES6 + "\x1b[2S", _lines(["L3", "L4", "L5", "L6"])),
    (49, LINES6 + "\x1b[2T", _lines(["", "", "L1", "L2"])),
    (50, "ABCDEF\x1b[1;3H\x1b[2@", _lines(["AB  CDEF"])),
    (51, "ABCDEF\x1b[1;3H\x1b[2P", _lines(["ABEF"])),
    (52, "ABCDEF\x1b[1;3H\x1b[2X", _lines(["AB  EF"])),
    (53, "ABCDEF\x1b[1;3H\x1b[4hxy", _lines(["ABxyCDEF"])),
    (54, "AB\x1b[1;1H\x1b[79@\x1b[1;1H\x1b[79P", _lines(["A"])),
    (55, "AB\x1bEC", _lines(["AB", "C"])),
    (56, "A\x1b[3b", _lines(["AAAA"])),
    (57, "\tX\tY", _lines_at(["        X       Y"], (0, 17))),
    (58, "\x1b[1;4H\x1bH\r\tA\x1b[3g\r\tB", _c58),
    (59, "\x1b[2IX\x1b[2ZY", _c59),
    (60, "\x1b[5;10r\x1b[?6h\x1b[1;1HO", lambda e, fb: _cursor_and_row(fb, (4, 1), "O")),
    (61, "\x1b[5;10r\x1b[?6h\x1b[20;1HO", lambda e, fb: _cursor_and_row(fb, (9, 1), "O")),
    (62, "\x1b[3;5H\x1b[1m\x1b7\x1b[0m\x1b[10;10H\x1b8X", _c62),
    (63, "\x1b[3;5H\x1b7\x1b[10;10H\x1b8\x1b[10;10H\x1b8", _fields(cursor_row=2, cursor_col=4)),
    (64, "\x1b7" * 10000, _c64),
    (65, "\x07\x07\x07", _fields(bell_count=3)),
    (66, "\x1b(0lqk\x1b(Bq", _lines(["┌─┐q"])),
    (67, "\x1bP+q544e\x1b\\OK", _lines(["OK"])),
    (68, "\x1b[!pOK", _lines(["OK"])),
    (69, "\x1b[0%mOK", lambda e, fb: _plain(fb, "OK")),
    (70, "\x1b[>c", _c70),
    (71, "\x1b[5;7H\x1b[6n", _c71),
    (72, "\x1b[?3h", _c72),
]


def _clipboard(fb: Framebuffer, selection: str, data: str) -> None:
    assert fb.clipboard is not None
    assert (fb.clipboard.selection, fb.clipboard.data) == (selection, data)


def _attrs(fb: Framebuffer, expected: list[int]) -> None:
    assert [rend(fb, 0, i).attrs for i in range(len(expected))] == expected


def _plain(fb: Framebuffer, expected: str) -> None:
    """`expected` on row 0, in the default rendition, nothing else printed."""
    assert text(fb, 2) == [expected, ""]
    assert all(r == Rendition() for r in fb.rows[0].renditions)


def _cells_at(fb: Framebuffer, cells: tuple[str, ...], pos: tuple[int, int]) -> None:
    assert fb.rows[0].cells[: len(cells)] == cells
    assert cursor(fb) == pos


def _last_rows(fb: Framebuffer, expected: list[str]) -> None:
    assert text(fb)[-len(expected) :] == expected
    assert text(fb)[-3] == "x"


def _cursor_and_row(fb: Framebuffer, pos: tuple[int, int], row_text: str) -> None:
    assert cursor(fb) == pos
    assert text(fb)[pos[0]] == row_text


def test_every_case_is_listed() -> None:
    assert [number for number, _, _ in CASES] == list(range(1, 73))


@pytest.mark.parametrize(("number", "data", "check"), CASES, ids=[f"case{c[0]}" for c in CASES])
def test_pyte_gap_case(number: int, data: str, check: Check) -> None:
    emulator, fb = run(data)
    check(emulator, fb)


@pytest.mark.parametrize(("number", "data", "check"), CASES, ids=[f"case{c[0]}" for c in CASES])
def test_pyte_gap_case_fed_byte_by_byte(number: int, data: str, check: Check) -> None:
    """Every sequence split at every byte boundary gives the same answer."""
    if number == 64:
        data = "\x1b7" * 50
    emulator = Emulator()
    for byte in data.encode():
        emulator.feed(bytes([byte]))
    check(emulator, emulator.snapshot())
