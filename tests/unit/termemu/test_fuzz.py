"""Property tests: whatever the bytes, feed() neither raises nor breaks the screen's shape."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssp.screen import Framebuffer, Row
from ssp.width import char_width
from termemu.emulator import Emulator


def _words(text: str) -> list[str]:
    return text.split()


_ESCAPES = _words("\x1b[ \x1b] \x1bP \x1b_ \x1b\\ \x1b( \x1b(0 \x1b(B \x1b)0 \x1b#8 \x1b7 \x1b8")
_ESCAPES += ["\x1bD", "\x1bE", "\x1bH", "\x1bM", "\x1bc", "\x1b=", "\x1b>", "\x1b"]
_CONTROLS = list("\x07\x08\t\n\r\x0e\x0f\x18\x1a\x00\x7f\u009b")
_CSI_BYTES = list("?>!$% ;:hlmH@PLMSTXbIZgncrsuJdGABCDEF")
_PARAMS = _words("2004 1049 1047 47 1000 1006 25 6 7 3 4 5;10r 38;5;196 38:2::1:2:3 48;2;1;2;3")
_PARAMS += ["0;1;4:3", "2J", "52;c;aGk=", "0;title", "133;A"]
_TEXT = ["abc", "xyz ", "中", "文字", "e\u0301", "\u200d", "\ufe0f", "❤", "😀", "\ufffd"]
_TEXT += ["\U0001f468\u200d\U0001f469", "A" * 30, " " * 9]
_FRAGMENTS = _ESCAPES + _CONTROLS + _CSI_BYTES + _PARAMS + _TEXT

fragments = st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=5), max_size=120).map("".join)
sizes = st.tuples(st.integers(1, 30), st.integers(1, 12))


def check_consistent(emulator: Emulator, fb: Framebuffer) -> None:
    width, height = emulator.width, emulator.height
    assert (fb.width, fb.height) == (width, height)
    assert len(fb.rows) == height
    assert 0 <= fb.cursor_row < height
    assert 0 <= fb.cursor_col < width
    for row in fb.rows:
        assert len(row.cells) == len(row.renditions) == width
        for i, cell in enumerate(row.cells):
            if cell == "":
                assert i > 0 and char_width(row.cells[i - 1][0]) == 2, row
            else:
                cell_width = char_width(cell[0])
                assert cell_width in (1, 2), row
                if cell_width == 2:
                    assert i + 1 < width and row.cells[i + 1] == "", row
    # No stale per-line cache: every row is what its line holds now.
    for line, row in zip(emulator.screen.grid, fb.rows, strict=True):
        assert row == Row(tuple(line.chars), tuple(line.rends))


def feed_in_pieces(emulator: Emulator, data: bytes, cuts: list[int]) -> None:
    points = sorted({min(c, len(data)) for c in cuts})
    start = 0
    for point in [*points, len(data)]:
        emulator.feed(data[start:point])
        start = point


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.binary(max_size=600), size=sizes)
def test_random_bytes(data: bytes, size: tuple[int, int]) -> None:
    emulator = Emulator(*size)
    emulator.feed(data)
    check_consistent(emulator, emulator.snapshot())
    assert emulator._parser.errors == 0


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(text=fragments, size=sizes, cuts=st.lists(st.integers(0, 2000), max_size=8))
def test_random_sequences_split_anywhere(text: str, size: tuple[int, int], cuts: list[int]) -> None:
    data = text.encode()
    whole = Emulator(*size)
    whole.feed(data)
    fb = whole.snapshot()
    check_consistent(whole, fb)
    assert whole._parser.errors == 0
    pieces = Emulator(*size)
    feed_in_pieces(pieces, data, cuts)
    assert pieces.snapshot() == fb
    assert pieces.take_replies() == whole.take_replies()


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(steps=st.lists(st.tuples(fragments, sizes), min_size=1, max_size=6), size=sizes)
def test_resizes_between_feeds(
    steps: list[tuple[str, tuple[int, int]]], size: tuple[int, int]
) -> None:
    emulator = Emulator(*size)
    previous = emulator.snapshot()
    for text, (width, height) in steps:
        emulator.feed(text.encode())
        emulator.resize(width, height)
        fb = emulator.snapshot()
        check_consistent(emulator, fb)
        replica = previous.copy()
        replica.apply(fb.diff_from(previous))
        assert replica == fb
        previous = fb
    assert emulator._parser.errors == 0
