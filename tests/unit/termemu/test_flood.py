"""The flood fast path (termemu/flood.py, flood_effects.py) against full emulation.

Whatever the bytes and however they are cut into feeds, an emulator with the fast path must
end in exactly the state of one without it: not only the snapshot, but everything that can
become visible later (the pending wrap, the pen, REP's character, the main screen behind the
alternate one, the DECSC slot, ...), and the same replies.
"""

from __future__ import annotations

import os

import pyte
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ssp.history import History
from ssp.screen import Row, palette_color
from termemu.emulator import Emulator
from termemu.flood import _column_after, run_end, skip_flood
from termemu.flood_effects import last_printed, pen_after
from termemu.lines import Line
from termemu.screen import EmulatorScreen
from tests.unit.termemu.test_fuzz import check_consistent, feed_in_pieces

# MOSHD_FLOOD_EXAMPLES=10 runs ten times the examples (a deeper check after changing the fast path).
SCALE = int(os.environ.get("MOSHD_FLOOD_EXAMPLES", "1"))


def deep_state(emulator: Emulator) -> tuple[object, ...]:
    """Everything full emulation leaves behind that can ever be seen."""
    screen = emulator.screen

    def rows(grid: list[Line]) -> list[Row]:
        return [Row(tuple(line.chars), tuple(line.rends)) for line in grid]

    main = None if screen._main_grid is None else rows(screen._main_grid)
    edge = next((i for i, line in enumerate(screen.grid) if line is screen._edge_line), None)
    fb = emulator.snapshot()
    check_consistent(emulator, fb)
    return (
        fb,
        rows(screen.grid),
        (screen.cursor.x, screen.cursor.y),
        screen.pen_tuple,
        screen.pen,
        screen.bce,
        screen.last_char,
        screen.margins,
        frozenset(screen.mode),
        screen.saved,
        screen._alt_saved,
        main,
        frozenset(screen.tabstops),
        (screen.charset, screen.g0_charset, screen.g1_charset, screen._translate),
        (screen.title, screen.icon_name, screen.bell_count, screen.clipboard),
        edge,
        emulator.take_replies(),
    )


def check_anchor(data: bytes, size: tuple[int, int], prelude: bytes = b"") -> int:
    """Invariant 3 of termemu.flood at the anchor itself: after `skip_flood`, cursor, pen,
    bell count and REP's character are what full emulation of the skipped text gives (only the
    rows differ, and those scroll away: the end-to-end tests check that). Returns the number of
    characters skipped."""
    fast = Emulator(*size, fast_path=False)
    fast.feed(prelude)
    text = data.decode()
    end = run_end(text, 0)
    anchor = skip_flood(fast.screen, text, 0, end)
    full = Emulator(*size, fast_path=False)
    full.feed(prelude + text[:anchor].encode())

    def lasting(screen: EmulatorScreen) -> tuple[object, ...]:
        cursor = screen.cursor
        return (cursor.x, cursor.y, screen.pen_tuple, screen.bell_count, screen.last_char)

    assert lasting(fast.screen) == lasting(full.screen)
    return anchor


def run_both(data: bytes, size: tuple[int, int], cuts: list[int], recheck: int = 256) -> Emulator:
    """Feed `data` in pieces to a fast-path emulator and whole to a full one; compare.

    `recheck` spaces the fast path's attempts (0: at the start of every run; the daemon's
    default waits a few hundred characters after a failed one, so attempts also start in the
    middle of runs): any position in the ground state must give the same result."""
    fast = Emulator(*size)
    fast._parser.flood_recheck = recheck
    feed_in_pieces(fast, data, cuts)
    full = Emulator(*size, fast_path=False)
    full.feed(data)
    assert deep_state(fast) == deep_state(full)
    assert fast._parser.errors == full._parser.errors == 0
    assert full._parser.skipped == 0
    return fast


# --- generators: mostly fast-path-eligible shapes, now and then something that is not --------
ASCII = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)
SGRS = ["\x1b[m", "\x1b[0m", "\x1b[1m", "\x1b[31m", "\x1b[44m", "\x1b[0;7m", "\x1b[38;5;200m"]
SGRS += ["\x1b[48;2;1;2;3m", "\x1b[22;39m", "\x1b[4:3m", "\x1b[0;1;42m", "\x1b[49m"]
SGRS += ["\x1b[K", "\x1b[1K", "\x1b[2K", "\x1b[0;1K", "\x1b[;7m"]  # EL belongs to runs too
ODD_TEXT = ["é", "中", "文字", "e\u0301", "\u0301", "😀", "\u200d", "\ufe0f", "\ufffd", "ß"]
CONTROLS = ["\x07", "\x08", "\t", "\r", "\n", "\r\n", "\x0b", "\x0c", "\x00", "\x7f", "\x9b"]
CONTROLS += ["\x18", "\x1a", "\x01", "\x1f", "\x85", "\x9c", "\x90", "\x9d"]
ESCAPES = [
    "\x1b[?1049h",
    "\x1b[?1049l",
    "\x1b[?47h",
    "\x1b[?47l",
    "\x1b[2;3r",
    "\x1b[1;2r",
    "\x1b[2r",
    "\x1b[r",
    "\x1b[?7l",
    "\x1b[?7h",
    "\x1b[4h",
    "\x1b[4l",
    "\x1b[20h",
    "\x1b[20l",
    "\x1b[?6h",
    "\x1b[?6l",
    "\x1b[6n",
    "\x1b[5n",
    "\x1b[c",
    "\x1b[3b",
    "\x1b[b",
    "\x1b(0",
    "\x1b(B",
    "\x0e",
    "\x0f",
    "\x1b[2J",
    "\x1b[K",
    "\x1b[1K",
    "\x1b[S",
    "\x1b[2T",
    "\x1bM",
    "\x1bD",
    "\x1bE",
    "\x1b7",
    "\x1b8",
    "\x1b]0;title\x07",
    "\x1b]2;t2\x1b\\",
    "\x1bc",
    "\x1b[!p",
    "\x1b[H",
    "\x1b[2;2H",
    "\x1b[9;9H",
    "\x1b[A",
    "\x1b[3C",
    "\x1b[L",
    "\x1b[M",
    "\x1b[2@",
    "\x1b[P",
    "\x1b[X",
    "\x1bH",
    "\x1b[3g",
    "\x1b[Z",
    "\x1b#8",
    "\x1b[?25l",
]


@st.composite
def lines(draw: st.DrawFn, width: int) -> str:
    kind = draw(st.integers(0, 9))
    if kind <= 3:  # short lines, as `seq` or `ls`
        return draw(ASCII) + draw(st.sampled_from(["\r\n", "\r\n", "\n"]))
    if kind == 4:  # exactly the width, or one off: the deferred-wrap edge
        n = width + draw(st.integers(-1, 1))
        return "x" * max(n, 0) + draw(st.sampled_from(["\r\n", "\n", ""]))
    if kind == 5:  # long lines that wrap several times
        return "w" * draw(st.integers(width, 4 * width + 1)) + draw(st.sampled_from(["\r\n", "\n"]))
    if kind == 6:  # overwrites with CR only
        return draw(ASCII) + "\r" + draw(ASCII) + "\r\n"
    if kind == 7:
        return draw(st.sampled_from(SGRS)) + draw(ASCII) + draw(st.sampled_from(SGRS)) + "\r\n"
    if kind == 8:
        return draw(st.sampled_from(ODD_TEXT + CONTROLS))
    return draw(st.sampled_from(ESCAPES))


RECHECKS = st.sampled_from([0, 0, 1, 3, 16, 256])
Case = tuple[bytes, tuple[int, int], list[int], int]


@st.composite
def streams(draw: st.DrawFn) -> Case:
    width = draw(st.integers(1, 12))
    height = draw(st.integers(1, 6))
    parts = draw(st.lists(lines(width), min_size=height, max_size=100))
    text = "".join(parts)
    if draw(st.integers(0, 3)) == 0:  # bare line feeds only: the anchor after an LF
        text = text.replace("\r", "")
    data = text.encode()
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=6))
    return data, (width, height), cuts, draw(RECHECKS)


@settings(max_examples=2000 * SCALE, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(case=streams())
def test_fast_path_equals_full_emulation(case: Case) -> None:
    data, size, cuts, recheck = case
    fast = run_both(data, size, cuts, recheck)
    event("skipped something" if fast._parser.skipped else "skipped nothing")


RUN_ENDERS = ["\x1b[H", "\x1b[2;3H", "\x1b[A", "\x1bM", "\x1b[?7l", "\x1b[3b", "\x0e", "\x0f"]

# Mode and position set-ups; the text after them starts a new feed, so its first character
# starts a run in any position (mid-line, pending wrap, outside the region, ...).
PRELUDES = [
    "",
    "\x1b[?7l",
    "\x1b[4h",
    "\x1b[20h",
    "\x1b[2;3r\x1b[3;1H",
    "\x1b[2;3r",  # the cursor above the region
    "\x1b[1;2r\x1b[4;1H",  # the cursor below it
    "\x1b[?1049h",
    "abc",
    "\x1b[20habc",  # newline mode, mid-line
    "\x1b[9;1HZZZZZZZZZZZZ\x1b[1;1H",  # an old bottom row that is not blank, cursor at the top
    "\x1b[1;99H",
    "\x1b[1;99Hx",  # a pending wrap
    "\x1b[1;99Hx\x1b[?7l",  # a pending wrap, then autowrap off
    "\x1b[?7l\x1b[1;99Hx\x1b[2;3r\x1b[3;1H",  # the autowrap-off edge marker outside the region
    "\x1b(0",
    "\x1b[5;1H\x1b[33;44mq",
]


@settings(max_examples=1500 * SCALE, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(case=streams(), prelude=st.sampled_from(PRELUDES))
def test_state_at_the_anchor_equals_full_emulation(case: Case, prelude: str) -> None:
    data, size, _, _ = case
    skipped = check_anchor(data, size, prelude.encode())
    event("skipped something" if skipped else "skipped nothing")


@settings(max_examples=1500 * SCALE, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    parts=st.lists(
        st.sampled_from(["\r\n", "\n", "\n", "\r", "\t", "\x08", "\x07", "a", "bc", "中", "\u0301"])
        # Now and then something that ends a run: the next one starts after it.
        | st.sampled_from([*CONTROLS, *RUN_ENDERS])
        | st.sampled_from(["\r\n", "\n"])
        | st.sampled_from(["\r\n", "\n"])
        | st.sampled_from(["\r\n", "\n", *SGRS])
        | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20),
        min_size=10,
        max_size=200,
    )
    # ASCII lines with now and then a TAB or BS: where the computed column could go wrong.
    | st.lists(
        st.sampled_from(["\n", "\n", "ab", "cde", "\t", "\x08", "x" * 9]), min_size=10, max_size=200
    ),
    size=st.tuples(st.integers(1, 9), st.integers(1, 5)),
    epilogue=st.sampled_from(["", "\x1b[3b", "\u0301", "\x1b[?7l\x1b[1;99H\u0301", "\x1b[6n"]),
    prelude=st.sampled_from(PRELUDES),
    cuts=st.lists(st.integers(0, 3000), max_size=4),
    recheck=RECHECKS,
    bare=st.booleans(),
)
def test_dense_runs_equal_full_emulation(
    parts: list[str],
    size: tuple[int, int],
    epilogue: str,
    prelude: str,
    cuts: list[int],
    recheck: int,
    bare: bool,
) -> None:
    """Nothing but run material after a mode-setting prelude, so most feeds take the fast
    path; the epilogue shows what the run left behind (REP's character, the edge marker).
    `bare`: no CR at all, so the anchor is after an LF and the column is computed."""
    run = "".join(parts)
    if bare:
        run = run.replace("\r", "")
    check_anchor(run.encode(), size, prelude.encode())
    body = prelude + run
    data = (body + epilogue).encode()
    fast = run_both(data, size, [len(prelude), len(body.encode()), *cuts], recheck)
    event("skipped something" if fast._parser.skipped else "skipped nothing")


@settings(max_examples=500 * SCALE, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    text=st.lists(
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30), max_size=60
    ),
    size=st.tuples(st.integers(2, 20), st.integers(1, 8)),
)
def test_fast_path_equals_stock_pyte_on_plain_lines(text: list[str], size: tuple[int, int]) -> None:
    """Plain ASCII lines ended by CR LF are a case pyte 0.8.2 gets right."""
    data = "".join(line + "\r\n" for line in text)
    fast = Emulator(*size)
    fast.feed(data.encode())
    reference = pyte.Screen(*size)
    pyte.Stream(reference).feed(data)
    assert [row.text for row in fast.snapshot().rows] == reference.display
    assert (fast.screen.cursor.x, fast.screen.cursor.y) == (reference.cursor.x, reference.cursor.y)


# --- the shapes the fast path exists for ------------------------------------------------------
def seq(first: int, last: int, newline: str = "\r\n") -> bytes:
    return "".join(f"{i}{newline}" for i in range(first, last + 1)).encode()


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_seq_is_mostly_skipped_and_exact(newline: str) -> None:
    data = seq(1, 20000, newline)
    fast = run_both(data, (80, 24), list(range(0, len(data), 16384)))
    assert fast._parser.skipped > 0.95 * len(data)
    expected = [f"{i}" for i in range(19978, 20001)] if newline == "\r\n" else None
    if expected is not None:
        assert fast.snapshot().text_lines() == [*expected, ""]


def test_yes_and_wrapping_lines() -> None:
    run_both(b"y\r\n" * 50000, (80, 24), [16384, 32768])
    long_lines = b"".join(b"z" * n + b"\r\n" for n in range(0, 400, 7))
    run_both(long_lines * 5, (80, 24), [])
    run_both(b"q" * 79 + b"\n" + b"e" * 81 + b"\n" * 30 + b"tail", (80, 24), [])


def test_flood_keeps_pen_bells_and_rep_character() -> None:
    data = b"".join(b"\x1b[0;3%dmfile%d\x1b[m\x07\r\n" % (i % 8, i) for i in range(200))
    data += b"\x1b[1;44m" + b"\r\n" * 30
    fast = run_both(data, (40, 10), [])
    assert fast.screen.bell_count == 200
    assert fast.screen.last_char == "9"
    assert fast.snapshot().rows[-1].renditions[0].bg == palette_color(4)
    fast.feed(b"\x1b[2b")
    assert fast.snapshot().text_lines()[-1] == "99"


def test_flood_inside_a_scroll_region_leaves_the_rest_alone() -> None:
    data = b"top\r\n\x1b[2;4r\x1b[4;1H" + seq(1, 500) + b"\x1b[r\x1b[6;1Hbottom"
    fast = run_both(data, (10, 6), [])
    assert fast._parser.skipped > 0
    assert fast.snapshot().text_lines() == ["top", "499", "500", "", "", "bottom"]


def test_flood_with_the_cursor_outside_the_region_is_not_skipped() -> None:
    for setup in (b"\x1b[3;4r\x1b[1;1H", b"\x1b[1;2r\x1b[4;1H"):
        data = setup + seq(1, 300)
        fast = run_both(data, (10, 5), [len(setup)])
        assert fast._parser.skipped == 0


def test_flood_starting_at_the_top_of_a_fresh_screen() -> None:
    fast = run_both(seq(1, 30), (10, 24), [])
    assert fast.snapshot().text_lines()[-1] == ""
    assert fast.screen.cursor.y == 23


def test_flood_with_autowrap_off_insert_mode_and_newline_mode() -> None:
    body = b"".join(b"%d %s\n" % (i, b"#" * (i % 23)) for i in range(300))
    for mode in (b"\x1b[?7l", b"\x1b[4h", b"\x1b[20h", b"\x1b[?7l\x1b[4h"):
        fast = run_both(mode + body, (12, 5), [])
        assert fast._parser.skipped > 0


def test_flood_on_the_alternate_screen_keeps_the_main_one() -> None:
    data = b"shell$ cat big\r\n\x1b[?1049h" + seq(1, 400) + b"\x1b[?1049l"
    fast = run_both(data, (20, 5), [])
    assert fast.snapshot().text_lines()[:2] == ["shell$ cat big", ""]


def test_mixed_width_text_in_the_skipped_part() -> None:
    body = "".join(f"{i} 中文 e\u0301 😀\t|\r\n" for i in range(300)).encode()
    fast = run_both(body, (9, 4), [100, 5000])
    assert fast._parser.skipped > 0


def test_flood_forgets_the_autowrap_off_edge_marker() -> None:
    """The marker of a line outside the region must not survive a flood whose visible end
    prints nothing: full emulation moved it to a line that scrolled away."""
    setup = b"\x1b[?7l\x1b[1;99Hx\x1b[2;3r\x1b[3;1H"
    flood = seq(1, 50) + b"\r\n" * 10
    fast = run_both(setup + flood + "\x1b[r\x1b[1;99H\u0301".encode(), (6, 4), [len(setup)])
    assert fast._parser.skipped > 0
    assert fast.snapshot().rows[0].cells[-2:] == (" \u0301", "x")


def test_flood_that_draws_nothing_keeps_the_edge_marker() -> None:
    """Found by the property test: line feeds alone do not touch the marker, so a flood of
    empty lines must not clear it either."""
    setup = b"\x1b[?7l\x1b[1;99Hx\x1b[2;3r\x1b[3;1H"
    fast = run_both(setup + b"\r\n" * 10, (1, 3), [len(setup)], 0)
    assert fast._parser.skipped > 0
    assert fast.screen._edge_line is fast.screen.grid[0]


def test_fast_path_off_skips_nothing() -> None:
    emulator = Emulator(fast_path=False)
    emulator.feed(seq(1, 5000))
    assert emulator._parser.skipped == 0


def test_huge_line_and_huge_run_without_newlines_stay_linear() -> None:
    emulator = Emulator()
    for _ in range(64):  # 1 MiB in 16 KiB slices
        emulator.feed(b"x" * 16384)
    assert emulator.screen.cursor.x in range(1, 81)
    emulator.feed(b"\n" * 100000)
    assert emulator._parser.skipped > 99000


# --- helpers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "printed", "autowrap", "expected"),
    [
        (0, 0, True, 0),
        (5, 0, True, 5),
        (0, 5, True, 5),
        (0, 10, True, 10),  # exactly the width: a pending wrap
        (0, 11, True, 1),
        (10, 1, True, 1),  # a pending wrap, then one character
        (10, 0, True, 10),
        (3, 27, True, 10),
        (0, 25, False, 9),
        (10, 1, False, 9),
        (10, 0, False, 10),
    ],
)
def test_column_after(x: int, printed: int, autowrap: bool, expected: int) -> None:
    assert _column_after(x, printed, 10, autowrap) == expected


def test_last_printed_andpen_after() -> None:
    assert last_printed("ab\x1b[31m\r\n\x07\t", 80) == "b"
    assert last_printed("a中\u0301\r\n", 80) == "中"
    assert last_printed("a中", 1) == "a"
    assert last_printed("\r\n\x1b[m", 80) is None
    pen = (0, 0, 0)
    assert pen_after("x\x1b[31mx\x1b[0;44mx\x1b[1m", pen) == pen_after("\x1b[44;1m", pen)
    assert pen_after("\x1b[31m\x1b[0;1Kx\x1b[1m", pen) == pen_after("\x1b[31;1m", pen)
    assert last_printed("ab\x1b[K\r\n\x1b[0;1K", 80) == "b"
    assert last_printed("ab\x00\x7f\x9b\x0b", 80) == "b"


# --- the combining-mark fix that came with this work ---------------------------------------
def test_combining_mark_after_the_last_column_without_autowrap() -> None:
    emulator = Emulator(5, 1)
    emulator.feed("\x1b[?7l\x1b[1;5Hx\u0301".encode())
    assert emulator.snapshot().rows[0].cells[3:] == (" ", "x\u0301")
    emulator.feed("\rabcdefg\u0302".encode())  # overwrites the last column, then joins it
    assert emulator.snapshot().rows[0].cells == ("a", "b", "c", "d", "g\u0302")


def test_combining_mark_without_autowrap_other_edges() -> None:
    emulator = Emulator(1, 1)  # one column: the cursor never leaves column 0
    emulator.feed("\x1b[?7lx\u0301".encode())
    assert emulator.snapshot().rows[0].cells == ("x\u0301",)
    emulator = Emulator(4, 1)
    emulator.feed("\x1b[?7l\x1b[1;3H中\u0301".encode())  # a wide character in the last two
    assert emulator.snapshot().rows[0].cells[2:] == ("中\u0301", "")
    emulator = Emulator(4, 1)
    emulator.feed("\x1b[?7lab\x1b[1;4H\u0301".encode())  # moved there, nothing written there
    assert emulator.snapshot().rows[0].cells == ("a", "b", " \u0301", " ")
    emulator = Emulator(4, 1)
    emulator.feed("\x1b[?7lab\u0301".encode())  # not at the edge: as before
    assert emulator.snapshot().rows[0].cells[:2] == ("a", "b\u0301")


# --- every small case, exhaustively ----------------------------------------------------------
def _sweep_cases() -> list[tuple[int, int, str]]:
    return [(w, h, p) for w in (1, 2, 3, 5) for h in (1, 2, 3) for p in PRELUDES]


@pytest.mark.parametrize(("width", "height", "prelude"), _sweep_cases())
def test_sweep_line_counts_and_lengths(width: int, height: int, prelude: str) -> None:
    """Floods of k equal lines, k around the thresholds (region height, cursor distance to the
    bottom), line lengths around the width, CR LF and bare LF: the off-by-ones live here."""
    lengths = sorted({0, 1, width - 1, width, width + 1, 2 * width, 2 * width + 1} - {-1})
    for newline in ("\r\n", "\n", "\r\r\n"):
        for length in lengths:
            for count in range(3 * height + 3):
                body = "".join(
                    "".join(chr(0x61 + (i + j) % 26) for j in range(length)) + newline
                    for i in range(count)
                )
                data = (prelude + body + "\x1b[2b").encode()
                run_both(data, (width, height), [len(prelude), len(prelude) + len(body)], 0)
                check_anchor(body.encode(), (width, height), prelude.encode())


# --- skip_plain_lines: the plainest flood taken whole, with or without scrollback ------------
@settings(max_examples=1000 * SCALE, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.lists(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=14)),
    st.integers(1, 12),
    st.integers(1, 6),
    st.sampled_from(["", "abc", "abc\n", "\n", "\x1b[31m", "\x1b[4h", "\x1b[2;3r", "x" * 13]),
    st.lists(st.integers(0, 400), max_size=4),
    st.booleans(),
)
def test_plain_lines_equal_full_emulation(
    lines: list[str], width: int, height: int, prelude: str, cuts: list[int], kept: bool
) -> None:
    """Plain CR LF lines after any prelude (text left on the bottom row, a bare LF after
    text, a pen, insert mode, margins, lines that wrap), cut anywhere: the same state and
    scrollback as full emulation."""
    filler = "\r\n" * height  # the cursor reaches the bottom row first
    data = (filler + prelude + "".join(line + "\r\n" for line in lines)).encode()
    fast = Emulator(width, height, history=History(limit=500) if kept else None)
    fast._parser.flood_recheck = 0
    feed_in_pieces(fast, data, cuts)
    full = Emulator(width, height, fast_path=False, history=History(limit=500) if kept else None)
    full.feed(data)
    assert deep_state(fast) == deep_state(full)
    if kept:
        a, b = fast.history, full.history
        assert a is not None and b is not None
        assert a.end == b.end and a.rows(a.first, a.end) == b.rows(a.first, b.end)
    event("skipped" if fast._parser.skipped else "not skipped")


@pytest.mark.parametrize("kept", [False, True])
@pytest.mark.parametrize(
    ("prelude", "head"),
    [
        ("abc", "\n"),  # a bare LF after text: the next lines start at column 3
        ("x" * 10, "ab\r\n"),  # a pending wrap: line 0 starts on a new row
        ("xxxxxxx", "abcdef\r\n"),  # line 0 wraps from column 7
        ("\x1b[4hzzzzzzzzz\r", "ab\r\n"),  # insert mode: line 0 pushes the row's text right
        ("\x1b[31m", "ab\r\n"),  # a pen: the rows are not in the default rendition
        ("\x1b[2;3r\x1b[3;1H", "ab\r\n"),  # margins: rows outside them stay
        ("\x1b(0", "ab\r\n"),  # DEC graphics: the letters are drawn as other characters
        ("\x1b[?7l", "0123456789\r\n" * 40),  # autowrap off: the last full line keeps the
        # edge marker (`_combine`), and it is still on the screen
    ],
)
def test_plain_lines_not_taken_where_drawing_differs(kept: bool, prelude: str, head: str) -> None:
    """Each state in which drawing the lines is not plain: the feed right after it starts in
    that state, and ends exactly as full emulation does."""
    start = ("\r\n" * 3 + prelude).encode()
    data = (head + "ab\r\n" * 30 + "cd").encode() if len(head) < 20 else head.encode()
    fast = Emulator(10, 3, history=History() if kept else None)
    fast.feed(start)
    fast.feed(data)
    full = Emulator(10, 3, fast_path=False, history=History() if kept else None)
    full.feed(start + data)
    assert deep_state(fast) == deep_state(full)
    if kept:
        a, b = fast.history, full.history
        assert a is not None and b is not None
        assert a.rows(0, a.end) == b.rows(0, b.end)


def test_seq_in_pty_sized_pieces_is_taken_whole_from_mid_line() -> None:
    """A PTY hands a flood over in pieces cut anywhere: each piece after the first is skipped
    from its first byte (the cursor mid-line on the bottom row), up to its last CR LF."""
    data = seq(1, 20000)
    fast = Emulator(80, 24, history=History(limit=100_000))
    fast.feed(data[:4000])
    before = fast._parser.skipped
    piece = data[4000:8000]
    fast.feed(piece)
    assert fast._parser.skipped - before == piece.rindex(b"\n") + 1
    feed_in_pieces(fast, data[8000:], list(range(0, len(data) - 8000, 4093)))
    full = Emulator(80, 24, fast_path=False, history=History(limit=100_000))
    full.feed(data)
    assert deep_state(fast) == deep_state(full)
    a, b = fast.history, full.history
    assert a is not None and b is not None
    assert a.rows(0, a.end) == b.rows(0, b.end)
