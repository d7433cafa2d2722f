"""Scrollback lines the flood fast path (`termemu.flood`) skipped, built when someone reads them.

Lines drawn with colours (SGR) or erased in part (EL) cannot be made from their text alone: the
pen and the background colour erase uses change as they go. Such a line is drawn the way full
emulation draws it, on a screen of one row of the same width, modes and tab stops: on a line of
its own, an LF at the bottom row is all that happens between lines (and an autowrap, an index()
at the bottom row, scrolls the row off the same way), so one row behaves exactly as the bottom
row of the whole screen did. Wide characters, TABs and lines that wrap are drawn that way
too. `emulate_lines` does it at once (for the few lines the fast path puts on the screen);
`StyledBlock` does it when the history is read (`ssp.history.LazyBlock`), which in a flood is
rare: most lines are evicted unread.
"""

from __future__ import annotations

from collections.abc import Sequence

from ssp.history import History, LazyRow
from ssp.screen import Row
from termemu.lines import Line, history_row
from termemu.screen import EmulatorScreen
from termemu.sgr import Pen


class _Collect(History):
    """The one-row screen's history: the lines themselves, in order."""

    def __init__(self) -> None:
        super().__init__(limit=0)
        self.lines: list[LazyRow] = []

    def append_lazy(self, line: LazyRow) -> None:
        self.lines.append(line)

    def extend_lazy(self, lines: Sequence[LazyRow], width: int) -> None:
        self.lines += lines


def emulate_lines(
    columns: int,
    modes: set[int],
    pen: Pen,
    first: Line | None,
    text: str,
    tabstops: frozenset[int] | None = None,
) -> tuple[list[Line], Line, Pen, Line | None]:
    """Draw `text` on one row `columns` wide (showing `first`, or blank), cursor at column 0,
    with `modes`, `pen` and `tabstops` (None: the default ones): (the lines that scrolled off,
    the row left, the pen left, the line the autowrap-off edge marker is on)."""
    from termemu.parser import Parser  # the parser imports termemu.flood, which imports us

    screen = EmulatorScreen(columns, 1)
    screen.mode = set(modes)
    screen._set_pen(pen)
    if tabstops is not None:
        screen.tabstops = set(tabstops)
    if first is not None:
        screen.grid = [first]
    sink = _Collect()
    screen.history = sink
    Parser(screen, fast_path=False).feed(text)
    lines = [line for line in sink.lines if isinstance(line, Line)]
    return lines, screen.grid[0], screen.pen_tuple, screen._edge_line


class StyledBlock:
    """`count` lines of a flood: `text` starts with the LF before the first of them and holds
    the LF between each two; drawn from `pen` when read. With `first`, `text` starts with the
    first line itself, drawn over `first` (the row the cursor was on)."""

    __slots__ = ("_columns", "_first", "_modes", "_pen", "_tabstops", "_text")

    def __init__(
        self,
        text: str,
        pen: Pen,
        columns: int,
        modes: set[int],
        tabstops: frozenset[int] | None = None,
        first: Line | None = None,
    ) -> None:
        self._text = text
        self._first = first
        self._tabstops = tabstops
        self._pen = pen
        self._columns = columns
        self._modes = frozenset(modes)

    def block_rows(self) -> list[Row]:
        # The leading LF scrolls the blank row off first (unless drawn over `first`); the
        # final one, the last line. (`first` is copied: it may be read again.)
        first = self._first
        start = Line(list(first.chars), list(first.rends), None) if first else None
        lines, _, _, _ = emulate_lines(
            self._columns, set(self._modes), self._pen, start, self._text + "\n", self._tabstops
        )
        return [history_row(line) for line in lines[0 if first else 1 :]]
