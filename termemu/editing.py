"""Editing the grid: scrolling (IND, RI, SU, SD, IL, DL), inserting, deleting and erasing
characters (ICH, DCH, ECH, EL, ED) and DECALN."""

from __future__ import annotations

from ssp.screen import DEFAULT_RENDITION, unpair_span
from termemu.lines import Line
from termemu.screenbase import ScreenBase


class Editing(ScreenBase):
    # --- scrolling -----------------------------------------------------------------------------
    def index(self) -> None:
        y = self.cursor.y
        margins = self.margins
        bottom = self.lines - 1 if margins is None else margins.bottom
        if y == bottom:
            grid = self.grid
            if margins is None:
                if self.history is not None:
                    self._keep_scrolled_off(1)
                del grid[0]
            else:
                del grid[margins.top]
            grid.insert(bottom, self._blank())
        elif y < self.lines - 1:
            self.cursor.y = y + 1

    def reverse_index(self) -> None:
        top, bottom = self.region()
        y = self.cursor.y
        if y == top:
            grid = self.grid
            del grid[bottom]
            grid.insert(top, self._blank())
        elif y > 0:
            self.cursor.y = y - 1

    def scroll_up(self, count: int = 1) -> None:
        """SU: the scrolling region moves up; the cursor stays."""
        top, bottom = self.region()
        if self.margins is None and self.history is not None:
            self._keep_scrolled_off(min(max(count, 1), self.lines))
        self._delete_rows(top, bottom, count)

    def scroll_down(self, count: int = 1) -> None:
        """SD: the scrolling region moves down; the cursor stays."""
        top, bottom = self.region()
        self._insert_rows(top, bottom, count)

    def _delete_rows(self, y: int, bottom: int, count: int) -> None:
        count = min(max(count, 1), bottom - y + 1)
        del self.grid[y : y + count]
        self.grid[bottom + 1 - count : bottom + 1 - count] = self._blanks(count)

    def _insert_rows(self, y: int, bottom: int, count: int) -> None:
        count = min(max(count, 1), bottom - y + 1)
        del self.grid[bottom + 1 - count : bottom + 1]
        self.grid[y:y] = self._blanks(count)

    def insert_lines(self, count: int | None = None) -> None:
        top, bottom = self.region()
        if top <= self.cursor.y <= bottom:
            self._insert_rows(self.cursor.y, bottom, count or 1)
            self.cursor.x = 0

    def delete_lines(self, count: int | None = None) -> None:
        top, bottom = self.region()
        if top <= self.cursor.y <= bottom:
            self._delete_rows(self.cursor.y, bottom, count or 1)
            self.cursor.x = 0

    # --- characters within a line --------------------------------------------------------------
    def insert_characters(self, count: int | None = None) -> None:
        if self.cursor.x < self.columns:
            self._insert_blanks(self.grid[self.cursor.y], self.cursor.x, count or 1)

    def delete_characters(self, count: int | None = None) -> None:
        x, cols = self.cursor.x, self.columns
        if x >= cols:
            return
        count = min(count or 1, cols - x)
        line = self.grid[self.cursor.y]
        chars, rends = line.chars, line.rends
        unpair_span(chars, x, x + count)  # no half of a wide character outlives the other
        del chars[x : x + count], rends[x : x + count]
        chars.extend([" "] * count)
        rends.extend([self.bce] * count)
        line.row = None

    def erase_characters(self, count: int | None = None) -> None:
        x = self.cursor.x
        self._erase(self.cursor.y, x, min(x + (count or 1), self.columns))

    def erase_in_line(self, how: int = 0, private: bool = False) -> None:
        x, y = self.cursor.x, self.cursor.y
        if how == 0:
            self._erase(y, x, self.columns)  # nothing while a wrap is pending (tmux)
        elif how == 1:
            self._erase(y, 0, min(x, self.columns - 1) + 1)
        elif how == 2:
            self._erase(y, 0, self.columns)

    def erase_in_display(self, how: int = 0, *args: object, **kwargs: object) -> None:
        y = self.cursor.y
        if how == 0:
            self.erase_in_line(0)
            rows = range(y + 1, self.lines)
        elif how == 1:
            self.erase_in_line(1)
            rows = range(y)
        elif how == 2:
            rows = range(self.lines)
        else:  # 3 erases scrollback only (xterm, tmux); there is none to erase
            return
        for row in rows:
            self.grid[row] = self._blank()

    def alignment_display(self) -> None:
        """DECALN: fill with E, reset the margins, home the cursor."""
        width = self.columns
        self.grid = [
            Line(["E"] * width, [DEFAULT_RENDITION] * width, None) for _ in range(self.lines)
        ]
        self.margins = None
        self.cursor_position()
