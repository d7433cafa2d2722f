"""Cursor motion: CUU/CUD/CUF/CUB and friends, CUP, line feed and NEL, backspace, tabs and tab
stops, the scrolling region (DECSTBM) and the DECSC/DECRC slot."""

from __future__ import annotations

from pyte import charsets as cs
from pyte import modes as mo
from pyte.screens import Margins

from ssp.screen import DEFAULT_COLOR
from termemu.screenbase import SavedCursor, ScreenBase


class Motion(ScreenBase):
    def linefeed(self) -> None:
        self.index()
        if mo.LNM in self.mode:
            self.cursor.x = 0

    def next_line(self) -> None:
        """NEL: carriage return and line feed (pyte did only the line feed)."""
        self.cursor.x = 0
        self.index()

    def backspace(self) -> None:
        self.cursor_back()

    def tab(self, count: int = 1) -> None:
        """HT / CHT: to the next tab stop, or the last column when there is none."""
        cols = self.columns
        x = min(self.cursor.x, cols - 1)
        for _ in range(min(max(count, 1), cols)):
            x += 1
            while x < cols - 1 and x not in self.tabstops:
                x += 1
            if x >= cols - 1:
                x = cols - 1
                break
        self.cursor.x = x

    def back_tab(self, count: int = 1) -> None:
        """CBT: to the previous tab stop, or the first column."""
        x = min(self.cursor.x, self.columns - 1)
        for _ in range(min(max(count, 1), self.columns)):
            if x == 0:
                break
            x -= 1
            while x > 0 and x not in self.tabstops:
                x -= 1
        self.cursor.x = x

    def set_tab_stop(self) -> None:
        self.tabstops.add(min(self.cursor.x, self.columns - 1))

    def clear_tab_stop(self, how: int = 0) -> None:
        if how == 0:
            self.tabstops.discard(min(self.cursor.x, self.columns - 1))
        elif how in (3, 5):
            self.tabstops = set()

    # --- cursor motion -------------------------------------------------------------------------
    def cursor_up(self, count: int | None = None) -> None:
        top, _ = self.region()
        y = self.cursor.y
        limit = top if y >= top else 0  # the margin stops the cursor only from inside
        self.cursor.y = max(y - (count or 1), limit)
        self._clamp_x()

    def cursor_down(self, count: int | None = None) -> None:
        _, bottom = self.region()
        y = self.cursor.y
        limit = bottom if y <= bottom else self.lines - 1
        self.cursor.y = min(y + (count or 1), limit)
        self._clamp_x()

    def cursor_up1(self, count: int | None = None) -> None:
        self.cursor_up(count)
        self.cursor.x = 0

    def cursor_down1(self, count: int | None = None) -> None:
        self.cursor_down(count)
        self.cursor.x = 0

    def cursor_back(self, count: int | None = None) -> None:
        self._clamp_x()
        self.cursor.x = max(self.cursor.x - (count or 1), 0)

    def cursor_forward(self, count: int | None = None) -> None:
        self._clamp_x()
        self.cursor.x = min(self.cursor.x + (count or 1), self.columns - 1)

    def cursor_position(self, line: int | None = None, column: int | None = None) -> None:
        self.cursor.y = self._line_in_origin(line)
        self.cursor.x = min((column or 1) - 1, self.columns - 1)

    def cursor_to_column(self, column: int | None = None) -> None:
        self.cursor.x = min((column or 1) - 1, self.columns - 1)

    def cursor_to_line(self, line: int | None = None) -> None:
        self.cursor.y = self._line_in_origin(line)
        self._clamp_x()

    def set_margins(self, top: int | None = None, bottom: int | None = None) -> None:
        """DECSTBM; an invalid region is ignored, a valid one homes the cursor."""
        first = (top or 1) - 1
        last = min((bottom or self.lines) - 1, self.lines - 1)
        if first >= last:
            return
        full = first == 0 and last == self.lines - 1
        self.margins = None if full else Margins(first, last)
        self.cursor_position()

    # --- save / restore ------------------------------------------------------------------------
    def save_cursor(self) -> None:
        """DECSC: one slot, overwritten each time (pyte stacked them without bound)."""
        self.saved = SavedCursor(
            self.cursor.x,
            self.cursor.y,
            self.pen_tuple,
            mo.DECOM in self.mode,
            mo.DECAWM in self.mode,
            self.g0_charset,
            self.g1_charset,
            self.charset,
        )

    def restore_cursor(self) -> None:
        """DECRC: the slot stays, so restoring twice gives the same position."""
        saved = self.saved
        if saved is None:
            self.mode.discard(mo.DECOM)
            self._set_pen((DEFAULT_COLOR, DEFAULT_COLOR, 0))
            self.g0_charset = self.g1_charset = cs.LAT1_MAP
            self.charset = 0
            self._update_translate()
            self.cursor.x = self.cursor.y = 0
            return
        for flag, on in ((mo.DECOM, saved.origin), (mo.DECAWM, saved.autowrap)):
            if on:
                self.mode.add(flag)
            else:
                self.mode.discard(flag)
        self._set_pen(saved.pen)
        self.g0_charset, self.g1_charset, self.charset = saved.g0, saved.g1, saved.charset
        self._update_translate()
        self.cursor.y = min(saved.y, self.lines - 1)
        self.cursor.x = saved.x if saved.x <= self.columns else self.columns - 1
