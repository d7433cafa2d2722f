"""termemu.restore: an emulator rebuilt from a framebuffer shows it, and goes on as the
original would."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssp.screen import Clipboard, Framebuffer, Modes, Row, intern_rendition
from termemu.emulator import Emulator
from termemu.restore import restore

# Upstream's frames, in pieces: what a stock server's display writes (terminaldisplay.cc).
_PIECES = [
    "abc",
    "xyz ",
    "中",
    "文字",
    "e\u0301",
    "😀",
    " " * 9,
    "A" * 30,
    "\r",
    "\n",
    "\r\n",
    "\x08",
    "\x07",
    "\x1b[K",
    "\x1b[5X",
    "\x1b[2J",
    "\x1b[H",
    "\x1b[3;4H",
    "\x1b[0m",
    "\x1b[0;1;31m",
    "\x1b[0;4;38;5;100;48;2;1;2;3m",
    "\x1b[7m",
    "\x1b[?25l",
    "\x1b[?25h",
    "\x1b[?5h",
    "\x1b[?5l",
    "\x1b[?2004h",
    "\x1b[?1002h",
    "\x1b[?1006h",
    "\x1b[?1004h",
    "\x1b]0;title\x07",
    "\x1b]1;icon\x07\x1b]2;window\x07",
    "\x1b]52;c;aGk=\x07",
    "\x1b[2;5r\x1b[5;1H\n\n\x1b[r",
]
# Each ends as upstream's frames do: the cursor placed explicitly, no scrolling region.
frames = st.lists(
    st.lists(st.sampled_from(_PIECES), max_size=25).map(lambda p: "".join(p) + "\x1b[2;3H"),
    min_size=1,
    max_size=4,
)
sizes = st.tuples(st.integers(1, 30), st.integers(1, 12))


def _fed(size: tuple[int, int], chunks: list[str]) -> Emulator:
    emulator = Emulator(*size)
    for chunk in chunks:
        emulator.feed(chunk.encode())
    return emulator


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes, frames, frames)
def test_restore_round_trips_and_continues_alike(
    size: tuple[int, int], before: list[str], after: list[str]
) -> None:
    original = _fed(size, before)
    fb = original.snapshot()
    rebuilt = restore(fb, original.screen.pen_tuple)
    assert rebuilt.snapshot() == fb
    for chunk in after:
        original.feed(chunk.encode())
        rebuilt.feed(chunk.encode())
        assert rebuilt.snapshot() == original.snapshot()


def test_every_field_comes_back() -> None:
    red = intern_rendition(2, 0, 1)
    row = Row(("h", "i", "中", ""), (red, red, red, red))
    fb = Framebuffer(
        width=4,
        height=2,
        rows=[row, Row((" ",) * 4, (red,) * 4)],
        cursor_row=1,
        cursor_col=3,
        modes=Modes(bracketed_paste=True, cursor_visible=False, mouse_reporting=1002),
        title="t",
        icon_name="i",
        bell_count=3,
        clipboard=Clipboard(2, "c", "aGk="),
        echo_ack=0,
    )
    emulator = restore(fb)
    snapshot = emulator.snapshot()
    assert snapshot == fb
    assert snapshot.rows[0] is row  # an untouched line keeps its very Row


def test_the_pen_is_the_one_given() -> None:
    emulator = restore(Framebuffer(width=5, height=1), (4, 0, 1))
    emulator.feed(b"x")
    assert emulator.snapshot().rows[0].renditions[0] == intern_rendition(4, 0, 1)
