"""The emulator's scrollback capture (EmulatorScreen.history) and the flood fast path's part in
it: which scrolls count (tmux's rule: the whole screen scrolls, on the main screen), what a
captured line holds, and that the fast path hands over exactly the lines full emulation does."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ssp.history import History
from ssp.screen import DEFAULT_RENDITION, Row, intern_rendition, palette_color
from ssp.width import WIDE_CLASS, char_width
from termemu.emulator import Emulator
from termemu.flood_effects import last_printed
from termemu.flood_history import _rows_of, _rows_tabbed
from termemu.parser import Parser
from termemu.screen import EmulatorScreen
from tests.unit.termemu.test_flood import RECHECKS, SCALE, SGRS, Case, deep_state, streams
from tests.unit.termemu.test_fuzz import feed_in_pieces


def emulator(width: int = 10, height: int = 3, fast_path: bool = True) -> Emulator:
    return Emulator(width, height, fast_path=fast_path, history=History(limit=100_000))


def texts(em: Emulator) -> list[str]:
    history = em.history
    assert history is not None
    dropped, rows = history.rows(0, history.end)
    assert dropped == 0
    return [row.text for row in rows]


def test_line_feeds_at_the_bottom_keep_the_top_line() -> None:
    em = emulator()
    em.feed(b"one\r\ntwo\r\nthree\r\nfour\r\nfive")
    assert texts(em) == ["one", "two"]
    assert em.snapshot().text_lines() == ["three", "four", "five"]


def test_ind_nel_autowrap_and_su_count_too() -> None:
    em = emulator(width=4)
    em.feed(b"\x1b[3;1Ha\x1bDb\x1bEc")  # IND and NEL at the bottom row
    em.feed(b"wxyz0123")  # autowrap at the bottom row
    em.feed(b"\x1b[2S")  # SU
    assert texts(em) == ["", "", "a", " b", "cwxy", "z012"]


def test_renditions_are_kept_and_blank_tails_dropped() -> None:
    em = emulator()
    em.feed(b"\x1b[31mred\x1b[m plain\r\n\x1b[44mblue\x1b[K\x1b[m\r\n\r\n\r\n")
    history = em.history
    assert history is not None
    _, rows = history.rows(0, history.end)
    red = intern_rendition(palette_color(1), 0, 0)
    assert rows[0] == Row(tuple("red plain"), (red,) * 3 + (DEFAULT_RENDITION,) * 6)
    # A coloured background erased to the edge shows: it stays.
    assert rows[1].width == 10 and rows[1].text == "blue      "


def test_a_scrolling_region_keeps_nothing() -> None:
    em = emulator(height=4)
    em.feed(b"\x1b[1;3r\x1b[3;1H" + b"x\r\n" * 5)  # region rows 1-3 of 4
    em.feed(b"\x1b[2;4r\x1b[4;1H" + b"y\r\n" * 5)  # region rows 2-4
    assert texts(em) == []
    em.feed(b"\x1b[r\x1b[4;1H" + b"z\r\n")  # the whole screen again
    assert len(texts(em)) == 1


def test_the_alternate_screen_keeps_nothing() -> None:
    em = emulator()
    em.feed(b"main\r\n\x1b[?1049h" + b"alt\r\n" * 10 + b"\x1b[2S")
    assert texts(em) == []
    em.feed(b"\x1b[?1049l\r\n\r\n\r\n")  # back on the main screen: it counts again
    assert texts(em) == ["main", ""]  # the cursor came back to row 1


def test_clearing_and_deleting_lines_keep_nothing() -> None:
    em = emulator()
    em.feed(b"a\r\nb\r\nc\x1b[2J\x1b[H\x1b[M\x1b[3J\x1bc")
    assert texts(em) == []


def test_the_flood_path_skips_yet_keeps_every_line() -> None:
    data = b"".join(b"%d\r\n" % n for n in range(1, 20001))
    fast, full = emulator(80, 24), emulator(80, 24, fast_path=False)
    for start in range(0, len(data), 16384):
        fast.feed(data[start : start + 16384])
    full.feed(data)
    assert fast._parser.skipped > len(data) // 2  # the fast path did skip
    assert texts(fast) == texts(full) == [str(n) for n in range(1, 19978)]


def test_the_flood_path_counts_lines_past_the_limit_as_evicted() -> None:
    em = Emulator(80, 24, history=History(limit=100))
    em.feed(b"".join(b"%d\r\n" % n for n in range(1, 5001)))
    history = em.history
    assert history is not None
    assert history.end == 4977
    dropped, rows = history.rows(0, history.end)
    assert dropped == history.first >= 4977 - 100 - 64
    assert [r.text for r in rows][-3:] == ["4975", "4976", "4977"]


def both(
    data: bytes, size: tuple[int, int], cuts: list[int], limit: int = 1000, recheck: int = 0
) -> Emulator:
    """Feeds `data` cut at `cuts` to a fast-path emulator and all at once to a full one, both
    keeping `limit` lines; asserts they agree (state, and the history both still hold:
    eviction happens in batches) and returns the fast one."""
    fast = Emulator(*size, history=History(limit=limit))
    fast._parser.flood_recheck = recheck
    feed_in_pieces(fast, data, cuts)
    full = Emulator(*size, fast_path=False, history=History(limit=limit))
    full.feed(data)
    assert deep_state(fast) == deep_state(full)
    a, b = fast.history, full.history
    assert a is not None and b is not None
    assert a.end == b.end
    after = max(a.first, b.first)
    assert a.rows(after, a.end) == b.rows(after, b.end)
    return fast


@settings(max_examples=300 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.integers(1, 40))
def test_fast_path_keeps_the_same_lines_as_full_emulation(case: Case, limit: int) -> None:
    """Whatever the bytes and the cuts: the same history (lines, renditions, numbers and
    evictions) and the same state as full emulation."""
    data, size, cuts, recheck = case
    both(data, size, cuts, limit, recheck)


@settings(max_examples=100 * SCALE, deadline=None)
@given(
    st.lists(st.text("ab \x1b[m", max_size=30), min_size=30, max_size=200),
    st.integers(5, 40),
    st.integers(2, 8),
)
def test_plain_floods_take_the_fast_path(lines: list[str], width: int, height: int) -> None:
    """Plain runs (text, CR LF), the shape the fast path hands over without emulating it."""
    text = "".join(line.replace("\x1b", "") + "\r\n" for line in lines)
    data = text.encode()
    fast = Emulator(width, height, history=History(limit=10_000))
    fast.feed(data)
    full = Emulator(width, height, fast_path=False, history=History(limit=10_000))
    full.feed(data)
    assert deep_state(fast) == deep_state(full)
    assert texts(fast) == texts(full)
    if max(len(line.replace("\x1b", "")) for line in lines) <= width:
        assert fast._parser.skipped  # nothing wraps: the fast path took it


def test_lines_kept_before_a_resize_stay_and_later_ones_have_the_new_width() -> None:
    em = emulator(width=10, height=2)
    em.feed(b"0123456789\r\nabcdefghij\r\n")
    em.resize(4, 2)
    em.feed(b"\r\nKLMNOPQ\r\n")  # wraps at the new width
    # The kept line stays whole; the one still on screen was cut by the resize (no reflow).
    assert texts(em) == ["0123456789", "abcd", "", "KLMN"]


# --- runs of other shapes: wide characters, wrapping, TAB (stops set or cleared), BS ---------
# Wide characters the history shape takes (ssp.width.WIDE_CLASS, its range edges too), and
# some it does not: emoji, combining marks, narrow non-ASCII.
WIDE = ["中", "文", "\u4e00", "\u9fff", "\u3001", "\u3002", "\u3041", "\u30fa", "\uac00", "\uff01"]
OTHER = ["😀", "e\u0301", "\u0301", "é", "\u200d", "\ufffd"]
WIDE_PRELUDES = [
    "",
    "",
    "",
    "\x1b[?7l",
    "\x1b[4h",
    "\x1b[20h",
    "\x1b[44m",
    "x",
    "\x1b[9;1H",
    "\x1b[2;3r",
]

WideCase = tuple[bytes, tuple[int, int], list[int], int, str, int]


@st.composite
def wide_lines(draw: st.DrawFn, width: int, clean: bool) -> str:
    """A line; `clean`: of the shape the fast path hands to the history (CR LF, no TAB ...)."""
    atoms = st.sampled_from(WIDE) | st.sampled_from([" ", "a", "bc", "\x07"])
    if clean:
        atoms |= st.sampled_from([*SGRS, "\t"])
    elif draw(st.integers(0, 5)) == 0:
        atoms |= st.sampled_from(SGRS) | st.sampled_from(["\t", "\x08", *OTHER])
    size = draw(st.sampled_from([width // 2, width, 2 * width + 1, 4 * width]))
    text = "".join(draw(st.lists(atoms, max_size=max(size, 1))))
    return text + ("\r\n" if clean else draw(st.sampled_from(["\r\n"] * 6 + ["\n", "\r", ""])))


@st.composite
def wide_streams(draw: st.DrawFn) -> WideCase:
    width = draw(st.integers(1, 12))
    height = draw(st.integers(1, 6))
    clean = draw(st.booleans())
    parts = draw(st.lists(wide_lines(width, clean), min_size=height, max_size=60))
    data = "".join(parts).encode()
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=6))
    return (
        data,
        (width, height),
        cuts,
        draw(st.integers(1, 200)),
        draw(st.sampled_from(WIDE_PRELUDES)),
        draw(RECHECKS),
    )


@settings(max_examples=500 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wide_streams())
def test_wide_wrapping_runs_keep_the_same_lines_as_full_emulation(
    case: WideCase,
) -> None:
    """Runs with wide characters, lines that wrap, SGR, EL, BEL (and now and then TAB, BS,
    combining marks, emoji), cut anywhere: the same history and state as full emulation."""
    data, size, cuts, limit, prelude, recheck = case
    fast = both(prelude.encode() + data, size, cuts, limit, recheck)
    event("skipped something" if fast._parser.skipped else "skipped nothing")


@settings(max_examples=200 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.lists(st.sampled_from([*WIDE, "a", " ", "\x1b[31m", "\x1b[m", "\x1b[K"]), max_size=40),
        min_size=20,
        max_size=120,
    ),
    st.integers(2, 30),
    st.integers(1, 8),
)
def test_cjk_floods_take_the_fast_path(lines: list[list[str]], width: int, height: int) -> None:
    """CJK lines ended by CR LF, wrapping or not: skipped into the history, every line kept."""
    data = "".join("".join(line) + "\r\n" for line in lines).encode()
    fast = Emulator(width, height, history=History(limit=100_000))
    fast.feed(data)
    full = Emulator(width, height, fast_path=False, history=History(limit=100_000))
    full.feed(data)
    assert deep_state(fast) == deep_state(full)
    a, b = fast.history, full.history
    assert a is not None and b is not None
    assert a.end == b.end and a.rows(0, a.end) == b.rows(0, b.end)
    if len(lines) > 2 * height + 2:
        assert fast._parser.skipped


def test_the_wide_class_is_two_columns_and_three_bytes() -> None:
    """termemu.flood counts a line's columns from its UTF-8 size: this is what allows it."""
    for char in re.findall(f"[{WIDE_CLASS}]", "".join(map(chr, range(0x80, 0x10000)))):
        assert char_width(char) == 2 and len(char.encode()) == 3, hex(ord(char))


@pytest.mark.parametrize("columns", [2, 3, 5, 80])
def test_rows_of_a_wide_line_match_drawing(columns: int) -> None:
    rng = random.Random(columns)
    for _ in range(3000):
        line = "".join(rng.choice("a中") for _ in range(rng.randint(0, 4 * columns)))
        screen = EmulatorScreen(columns, 1)
        screen.history = History(limit=1000)
        screen.draw(line)
        assert _rows_of(line, columns) == screen.history.end + 1, line


@settings(max_examples=1000 * SCALE, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "bcd", "中", "\t", "\t\t", "x" * 7]), max_size=30),
    st.integers(1, 20),
    st.sets(st.integers(0, 25)),
)
def test_rows_of_a_tabbed_line_match_drawing(
    parts: list[str], columns: int, stops: set[int]
) -> None:
    """With any tab stops, a TAB after a full row (a pending wrap) too."""
    line = "".join(parts)
    if columns < 2:
        line = line.replace("中", "a")
    screen = EmulatorScreen(columns, 1)
    screen.tabstops = {stop for stop in stops if stop < columns}
    screen.history = History(limit=1000)
    Parser(screen, fast_path=False).feed(line)
    assert _rows_tabbed(line, columns, screen.tabstops) == screen.history.end + 1


@pytest.mark.parametrize("prelude", ["", "\x1b[3g", "\x1b[3g\x1b[1;4H\x1bH\x1b[1;1H", "\x1b[?7l"])
@pytest.mark.parametrize("width", [4, 10, 80])
def test_tabbed_floods_keep_their_tab_stops(prelude: str, width: int) -> None:
    """The skipped lines are drawn (when read) with the screen's tab stops, not the default."""
    lines = (f"a\tb{n}\tc{'中' * (n % 7)}\t{'x' * (n % 13)}\r\n" for n in range(300))
    data = (prelude + "".join(lines)).encode()
    fast = Emulator(width, 3, history=History(limit=100_000))
    feed_in_pieces(fast, data, [1000, 2000])
    full = Emulator(width, 3, fast_path=False, history=History(limit=100_000))
    full.feed(data)
    assert fast._parser.skipped
    assert deep_state(fast) == deep_state(full)
    a, b = fast.history, full.history
    assert a is not None and b is not None
    assert a.end == b.end and a.rows(0, a.end) == b.rows(0, b.end)


# --- the history skip taking the run whole (termemu.flood_history.skip_into_history) --------


def test_autowrap_off_leaves_the_edge_marker_on_the_tails_last_line() -> None:
    # The last line reaches the edge: a combining mark after CUP there must join its cell.
    lines = b"".join(b"\x1b[3%dm%s\r\n" % (i % 8, b"abcdefghijkl"[: 8 + i % 5]) for i in range(30))
    data = b"\x1b[?7l" + b"\r\n" * 3 + lines
    fast = both(data, (10, 4), [])
    assert fast._parser.skipped > len(lines) // 2
    assert fast.screen._edge_line is fast.screen.grid[2]
    both(data + b"\x1b[3;10H\xcc\x81", (10, 4), [])


def test_an_empty_line_0_after_a_cut_between_cr_and_lf_is_kept() -> None:
    # The cut leaves line 0 empty; with one row on screen it is all the history gets before
    # the tail.
    data = b"\r\n" * 3 + b"\n\r\n\r\n"
    for cut in range(len(data) + 1):
        both(data, (1, 3), [cut])


def test_the_tail_s_wrapped_rows_beyond_the_screen_go_to_the_history() -> None:
    lines = b"".join(b"\x1b[1m%s\x1b[m\r\n" % (b"x%02d" % i * 5) for i in range(40))
    fast = both(b"\r\n" * 3 + lines, (4, 3), [])
    assert fast._parser.skipped


def test_last_printed_looks_back_past_lines_without_text() -> None:
    assert last_printed("ab\x1b[31m\r\n\x1b[m\r\n\x07\r\n", 80) == "b"
    assert last_printed("\r\n\x1b[m\r\n", 80) is None
    assert last_printed("a\nb\x1b[1m", 80) == "b"
