"""Drawing text: printable characters into cells, wide characters, combining marks, REP, and
what the flood fast path skipped (`skipped_text`)."""

from __future__ import annotations

import re

from pyte import modes as mo

from ssp.screen import Rendition, unpair_span
from ssp.width import WIDE_CLASS, char_width
from termemu.lines import Line
from termemu.screenbase import ScreenBase
from termemu.sgr import Pen

_MAX_CELL_CHARS = 32  # a base char plus combining marks; stops zalgo text from growing a cell
_MAX_REPEAT = 65535
# Text as runs of ASCII (group 1), of `WIDE_CLASS` characters (group 2), and of anything else.
_SEGMENTS = re.compile(f"([\\x20-\\x7e]+)|([{WIDE_CLASS}]+)|[^\\x20-\\x7e{WIDE_CLASS}]+")


class Drawing(ScreenBase):
    def draw(self, data: str) -> None:
        if self._translate is not None:
            data = data.translate(self._translate)
        if not data:
            return
        if mo.IRM in self.mode:
            self._draw_slow(data)
        elif data.isascii():
            self._draw_ascii(data)
        elif mo.DECAWM not in self.mode:
            self._draw_slow(data)
        else:
            # CJK text: its runs of wide characters a row at a time, not a character at a time.
            for segment in _SEGMENTS.finditer(data):
                if segment.lastindex == 1:
                    self._draw_ascii(segment.group())
                elif segment.lastindex == 2:
                    self._draw_wide(segment.group())
                else:
                    self._draw_slow(segment.group())

    def _draw_ascii(self, text: str) -> None:
        """Runs of single-width characters: whole slices per line instead of per character."""
        cols = self.columns
        cursor = self.cursor
        self.last_char = text[-1]
        if mo.DECAWM not in self.mode:
            x = min(cursor.x, cols - 1)
            room = cols - x
            if len(text) > room:  # every character past the edge overwrites the last column
                text = text[: room - 1] + text[-1]
            line = self.grid[cursor.y]
            self._put_run(line, x, text, self.pen)
            cursor.x = min(x + len(text), cols - 1)
            self._edge_line = line if x + len(text) >= cols else None
            return
        self._edge_line = None
        x = cursor.x
        n = len(text)
        if x + n <= cols:  # the common case, inlined: it fits on the cursor's line
            line = self.grid[cursor.y]
            chars = line.chars
            end = x + n
            # ssp.screen.unpair_span(chars, x, end), inlined: the hottest path
            if x and chars[x] == "":
                chars[x - 1] = " "
            if end < cols and chars[end] == "":
                chars[end] = " "
            chars[x:end] = text
            line.rends[x:end] = [self.pen] * n
            line.row = None
            cursor.x = end
            return
        pos = 0
        while pos < n:
            x = cursor.x
            if x >= cols:  # the deferred wrap happens now that another character came
                cursor.x = x = 0
                self.index()
            end = min(x + n - pos, cols)
            self._put_run(self.grid[cursor.y], x, text[pos : pos + end - x], self.pen)
            pos += end - x
            cursor.x = end

    def _put_run(self, line: Line, x: int, text: str, pen: Rendition) -> None:
        chars = line.chars
        end = x + len(text)
        unpair_span(chars, x, end)  # overwriting half of a wide character blanks its other half
        chars[x:end] = text
        line.rends[x:end] = [pen] * len(text)
        line.row = None

    def _draw_wide(self, text: str) -> None:
        """A run of `WIDE_CLASS` characters (two columns each) with autowrap and without
        insert mode: as many as fit on the cursor's row at once; one that would not fit wraps
        first (from the last column too), as `_draw_slow` does."""
        cols = self.columns
        if cols < 2:
            return  # a wide character cannot show on a one-column screen
        cursor = self.cursor
        pen = self.pen
        self.last_char = text[-1]
        self._edge_line = None
        start, size = 0, len(text)
        while start < size:
            x = cursor.x
            if x + 2 > cols:
                cursor.x = x = 0
                self.index()
            chunk = text[start : start + (cols - x) // 2]
            end = x + 2 * len(chunk)
            cells = [""] * (end - x)
            cells[::2] = chunk  # each character, then its right half ("")
            line = self.grid[cursor.y]
            unpair_span(line.chars, x, end)
            line.chars[x:end] = cells
            line.rends[x:end] = [pen] * (end - x)
            line.row = None
            cursor.x = end
            start += len(chunk)

    def _draw_slow(self, text: str) -> None:
        cols = self.columns
        cursor = self.cursor
        autowrap = mo.DECAWM in self.mode
        insert = mo.IRM in self.mode
        for char in text:
            width = char_width(char)
            if width == 0:
                self._combine(char)
                continue
            if width > cols:
                continue  # a wide character cannot show on a one-column screen
            x = cursor.x
            if x + width > cols:
                if autowrap:  # includes a wide char at the last column: it wraps first
                    cursor.x = x = 0
                    self.index()
                else:
                    x = cols - width
            line = self.grid[cursor.y]
            if insert:
                self._insert_blanks(line, x, width)
            self._put_cell(line, x, char, width)
            self.last_char = char
            x += width
            if autowrap:
                cursor.x = x
                self._edge_line = None
            else:
                cursor.x = min(x, cols - 1)
                self._edge_line = line if x >= cols else None

    def _put_cell(self, line: Line, x: int, char: str, width: int) -> None:
        chars, rends, pen = line.chars, line.rends, self.pen
        unpair_span(chars, x, x + width)
        chars[x] = char
        rends[x] = pen
        if width == 2:
            chars[x + 1] = ""
            rends[x + 1] = pen
        line.row = None

    def _combine(self, mark: str) -> None:
        """A zero-width character (combining mark, ZWJ, variation selector) joins the cell
        before the cursor; pyte dropped the rest of the text after ZWJ/VS16 instead."""
        x = min(self.cursor.x, self.columns)
        line = self.grid[self.cursor.y]
        if x == self.columns - 1 and line is self._edge_line and mo.DECAWM not in self.mode:
            # Autowrap off keeps the cursor on the last column it just wrote instead of moving
            # past it: the mark belongs to that cell, not the one before.
            x = self.columns
        if x == 0:
            return  # nothing to join (xterm drops it too)
        chars = line.chars
        px = x - 1
        if chars[px] == "" and px > 0:
            px -= 1
        cell = chars[px]
        if len(cell) >= _MAX_CELL_CHARS:
            return
        # Kept exactly as the application wrote it (no NFC composing), as tmux and xterm do:
        # the client's terminal then holds the same code points the application sent.
        chars[px] = cell + mark
        line.row = None

    def skipped_text(self, x: int, y: int, pen: Pen, bells: int, last_char: str | None) -> None:
        """The lasting effects of text the flood fast path skipped (`termemu.flood`): its
        lines scrolled away unseen, but the cursor, pen, bell count and REP's character stay."""
        self.cursor.x = x
        self.cursor.y = y
        if pen != self.pen_tuple:
            self._set_pen(pen)
        self.bell_count += bells
        if last_char is not None:  # the skipped text drew something
            self.last_char = last_char
            # Drawing moved the edge marker to the line drawn on (or cleared it); that line is
            # in the scrolling region and scrolls away before the run ends, so None is the
            # same. Text that drew nothing leaves the marker where it was (maybe outside the
            # region).
            self._edge_line = None

    def repeat(self, count: int = 1) -> None:
        """REP: the last printed character, `count` more times."""
        if self.last_char:
            self.draw(self.last_char * min(max(count, 1), _MAX_REPEAT))
