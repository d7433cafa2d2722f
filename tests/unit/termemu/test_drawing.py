"""termemu.drawing: text drawn a run at a time (ASCII, `WIDE_CLASS`) against character by
character (`_draw_slow`, the general path), from any cursor over any cells."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ssp.history import History
from ssp.screen import Row
from termemu.screen import EmulatorScreen

WIDE = ["中", "文", "\u4e00", "\u9fff", "\u3001", "\u3041", "\u30fa", "\uac00", "\uff01", "\uff60"]
OTHER = ["é", "\u0301", "😀", "\u200d", "\u2500", "\u00a0"]
ATOMS = st.sampled_from(WIDE) | st.sampled_from(["a", " ", "xyz"]) | st.sampled_from(OTHER)


def state(screen: EmulatorScreen) -> tuple[object, ...]:
    history = screen.history
    assert history is not None
    return (
        [Row(tuple(line.chars), tuple(line.rends)) for line in screen.grid],
        (screen.cursor.x, screen.cursor.y),
        screen.last_char,
        next((i for i, line in enumerate(screen.grid) if line is screen._edge_line), None),
        history.rows(0, history.end),
    )


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(st.lists(ATOMS, max_size=30).map("".join), min_size=1, max_size=4),
    st.integers(1, 9),
    st.integers(1, 4),
    st.lists(st.lists(st.sampled_from(["中", "b", "\x1b[31m"]), max_size=12).map("".join)),
    st.integers(0, 12),
    st.integers(0, 3),
    st.booleans(),
)
def test_runs_draw_as_character_by_character(
    texts: list[str], width: int, height: int, cells: list[str], x: int, y: int, edge: bool
) -> None:
    """Over rows holding wide pairs, from any column (a pending wrap too), with or without an
    edge marker left, texts mixing ASCII, wide and other characters: the same cells, cursor,
    history, REP character and edge marker as drawing them one character at a time."""
    screens = []
    for by_runs in (True, False):
        screen = EmulatorScreen(width, height)
        screen.history = History(limit=100)
        for row, text in enumerate(cells[:height]):  # cells to overwrite, wide pairs among them
            screen.cursor.x, screen.cursor.y = 0, row
            screen._draw_slow(text.replace("\x1b[31m", "r"))
        screen.cursor.x, screen.cursor.y = min(x, width), min(y, height - 1)
        if edge:  # left by drawing with autowrap off (the test turns it on again)
            screen._edge_line = screen.grid[screen.cursor.y]
        for text in texts:
            if by_runs:
                screen.draw(text)
            else:
                screen._draw_slow(text)
        screens.append(state(screen))
    assert screens[0] == screens[1]


def test_a_wide_run_fills_rows_and_wraps_before_a_last_odd_column() -> None:
    screen = EmulatorScreen(5, 3)
    screen.draw("中文字漢語")
    assert ["".join(line.chars) for line in screen.grid] == ["中文 ", "字漢 ", "語   "]
    assert (screen.cursor.x, screen.cursor.y) == (2, 2)
