"""The emulator's screen state: pyte's `Screen`, with the parts it gets wrong replaced.

pyte keeps the cursor, margins, modes, tab stops and charsets; we keep its method names (the
`Stream` vocabulary) and its conventions (DEC private modes stored as `mode << 5`, a pending
last-column wrap shown as `cursor.x == columns`, as tmux does). What we replace:

* The cell store: a list of `termemu.lines.Line`s, which scroll by list splicing and cache
  their `ssp.screen.Row` (pyte's sparse dict of dicts made every scroll touch every line).
* Renditions are `ssp.screen.Rendition`s, so no conversion is needed at snapshot time.
* Every case where stock pyte is wrong (tests/unit/termemu/test_pyte_gaps.py): the alternate
  screen, BCE, wide-character edges, DL/SU/SD/ICH/DCH on untouched lines, origin-mode
  clamping, a single DECSC slot, ...

Widths come from `ssp.width.char_width` only, so server and client agree.

Why one class of ~750 lines: it is one state machine. pyte's `Screen` is the base class and
its dispatch vocabulary (every method name here overrides one of pyte's), and drawing,
scrolling, erasing, motion, modes and the alternate screen all read and write the same
cursor, margins, pen and grid. Mixins by job would each have to redeclare that shared state
for the type checker and would hide which override wins; what does split cleanly lives
outside: the cell store (`termemu.lines`), SGR parsing (`termemu.sgr`), tokenizing
(`termemu.parser`) and the flood fast path (`termemu.flood`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyte
from pyte import charsets as cs
from pyte import modes as mo
from pyte.screens import Cursor, Margins

from ssp.screen import (
    DEFAULT_COLOR,
    DEFAULT_RENDITION,
    Clipboard,
    Modes,
    Rendition,
    Row,
    blank_row,
    intern_rendition,
)
from ssp.width import char_width
from termemu.lines import Line, blank_line, fix_wide_pairs, is_wide, resize_grid
from termemu.sgr import Pen, apply_sgr_memo

# DEC private modes, in pyte's encoding (mode number << 5).
DECCKM = 1 << 5
FOCUS_EVENTS = 1004 << 5
BRACKETED_PASTE = 2004 << 5
_DEFAULT_MODES = frozenset({mo.DECAWM, mo.DECTCEM})
_MOUSE_REPORTING = frozenset({9, 1000, 1002, 1003})
_MOUSE_ENCODINGS = frozenset({1005, 1006, 1015})
_TRACKED_PRIVATE = frozenset({1, 5, 6, 7, 25, 1004, 2004})
_TRACKED_ANSI = frozenset({4, 20})  # IRM, LNM

PRIMARY_DA = b"\x1b[?62c"  # "VT220, no options", as upstream mosh answers
SECONDARY_DA = b"\x1b[>1;10;0c"  # upstream mosh's answer
_MAX_CELL_CHARS = 32  # a base char plus combining marks; stops zalgo text from growing a cell
_MAX_REPEAT = 65535
_MAX_TEXT_FIELD = 4096  # title / icon name


@dataclass(slots=True)
class _SavedCursor:
    """The DECSC slot: position, pen, origin mode, autowrap and character sets."""

    x: int
    y: int
    pen: Pen
    origin: bool
    autowrap: bool
    g0: str
    g1: str
    charset: int


class EmulatorScreen(pyte.Screen):  # pyte 0.8.2 ships py.typed
    def __init__(self, columns: int, lines: int) -> None:
        self.replies = bytearray()
        self.title = ""
        self.icon_name = ""
        self.bell_count = 0
        self.clipboard: Clipboard | None = None
        self.grid: list[Line] = []
        self._main_grid: list[Line] | None = None  # the main screen while the alternate shows
        self._alt_saved: tuple[int, int, Pen] | None = None  # ?1049's cursor save
        self._modes_key: tuple[object, ...] = ()
        self._modes = Modes()
        self._blank_cache: Row | None = None
        self._blank_bce: Rendition | None = None  # the rendition _blank_cache was made for
        # With autowrap off, the line whose last column the cursor sits on because a character
        # was just written there (the cursor cannot move past it): a combining mark joins that
        # cell, not the one before. The next character drawn anywhere else forgets it.
        self._edge_line: Line | None = None
        super().__init__(columns, lines)  # calls our reset()
        self.mode = set(_DEFAULT_MODES)

    # --- state helpers ---------------------------------------------------------------------
    def reset(self) -> None:
        """RIS: everything back to power-on, except title, icon, bell count and clipboard
        (they describe the session, not the screen)."""
        self.margins: Margins | None = None
        self.mode = set(_DEFAULT_MODES)
        self.charset = 0
        self.g0_charset = cs.LAT1_MAP
        # xterm and tmux start G1 as ASCII too; pyte's line-drawing G1 would garble text after a
        # stray SO.
        self.g1_charset = cs.LAT1_MAP
        self._translate: str | None = None
        self.tabstops = set(range(8, self.columns, 8))
        self.cursor = Cursor(0, 0)
        self._set_pen((DEFAULT_COLOR, DEFAULT_COLOR, 0))
        self.saved: _SavedCursor | None = None
        self.savepoints = []  # pyte's unbounded DECSC stack stays empty: we keep one slot
        self.grid = [blank_line(self.columns, DEFAULT_RENDITION) for _ in range(self.lines)]
        self._main_grid = None
        self._alt_saved = None
        self.mouse_reporting = 0
        self.mouse_encoding = 0
        self.app_keypad = False
        self.last_char = ""
        self._edge_line = None
        self.saved_columns = None
        self.dirty.update(range(self.lines))

    def _set_pen(self, pen: Pen) -> None:
        self.pen_tuple = pen
        self.pen = intern_rendition(*pen)
        # Background colour erase: erased and scrolled-in cells take the background colour
        # only, never bold/inverse/underline (tmux does the same).
        self.bce = intern_rendition(DEFAULT_COLOR, pen[1], 0)

    def region(self) -> tuple[int, int]:
        """The scrolling region's (top, bottom) rows, inclusive."""
        margins = self.margins
        return (0, self.lines - 1) if margins is None else (margins.top, margins.bottom)

    def _blank(self) -> Line:
        """A new blank line in the background colour; its `Row` is shared and cached here
        because scrolling asks for one per line feed."""
        bce, cols = self.bce, self.columns
        row = self._blank_cache
        # Keyed on the identity of bce: blank_row's cache may hand back a row built with an
        # equal but distinct Rendition (DEFAULT_RENDITION), so comparing the row's own
        # rendition by identity would miss every time.
        if row is None or self._blank_bce is not bce or len(row.cells) != cols:
            row = self._blank_cache = blank_row(cols, bce)
            self._blank_bce = bce
        return Line([" "] * cols, [bce] * cols, row)

    def _blanks(self, count: int) -> list[Line]:
        return [self._blank() for _ in range(count)]

    @property
    def translating(self) -> bool:
        """Whether a character set other than ASCII (DEC graphics) is in use for drawing."""
        return self._translate is not None

    def _update_translate(self) -> None:
        table = self.g1_charset if self.charset else self.g0_charset
        self._translate = None if table is cs.LAT1_MAP else table

    def modes(self) -> Modes:
        mode = self.mode
        key = (
            DECCKM in mode,
            self.app_keypad,
            BRACKETED_PASTE in mode,
            FOCUS_EVENTS in mode,
            mo.DECSCNM in mode,
            mo.DECTCEM in mode,
            self.mouse_reporting,
            self.mouse_encoding,
        )
        if key != self._modes_key:
            self._modes_key = key
            app_cursor_keys, app_keypad, paste, focus, reverse, cursor, reporting, encoding = key
            self._modes = Modes(
                app_cursor_keys=app_cursor_keys,
                app_keypad=app_keypad,
                bracketed_paste=paste,
                focus_events=focus,
                reverse_video=reverse,
                cursor_visible=cursor,
                mouse_reporting=reporting,
                mouse_encoding=encoding,
            )
        return self._modes

    def repair(self) -> None:
        """Restore the invariants after a handler failed half-way (a bug, never expected)."""
        width, height = self.columns, self.lines
        if len(self.grid) != height:
            self.grid = (self.grid + self._blanks(height))[:height]
        for line in self.grid:
            if len(line.chars) != width or len(line.rends) != width:
                line.chars = (line.chars + [" "] * width)[:width]
                line.rends = (line.rends + [DEFAULT_RENDITION] * width)[:width]
            fix_wide_pairs(line)
            line.row = None
        self.cursor.x = min(max(self.cursor.x, 0), width)
        self.cursor.y = min(max(self.cursor.y, 0), height - 1)

    @property
    def display(self) -> list[str]:
        return ["".join(line.chars) for line in self.grid]

    # --- text ------------------------------------------------------------------------------
    def draw(self, data: str) -> None:
        if self._translate is not None:
            data = data.translate(self._translate)
        if not data:
            return
        if data.isascii() and mo.IRM not in self.mode:
            self._draw_ascii(data)
        else:
            self._draw_slow(data)

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
        # Overwriting half of a wide character blanks its other half.
        if x and chars[x] == "":
            chars[x - 1] = " "
        if end < len(chars) and chars[end] == "":
            chars[end] = " "
        chars[x:end] = text
        line.rends[x:end] = [pen] * len(text)
        line.row = None

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
        end = x + width
        if x and chars[x] == "":
            chars[x - 1] = " "
        if end < len(chars) and chars[end] == "":
            chars[end] = " "
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

    # --- C0 controls -----------------------------------------------------------------------
    def bell(self, *args: object) -> None:
        self.bell_count += 1

    def shift_in(self) -> None:
        self.charset = 0
        self._update_translate()

    def shift_out(self) -> None:
        self.charset = 1
        self._update_translate()

    def define_charset(self, code: str, mode: str) -> None:
        # Only ASCII ("B") and DEC special graphics ("0"), as tmux; pyte's "U"/"V" are the
        # Linux console's IBM maps, which no xterm-like terminal uses.
        table = cs.VT100_MAP if code == "0" else cs.LAT1_MAP
        if mode == "(":
            self.g0_charset = table
        elif mode == ")":
            self.g1_charset = table
        self._update_translate()

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

    # --- scrolling -------------------------------------------------------------------------
    def index(self) -> None:
        y = self.cursor.y
        margins = self.margins
        bottom = self.lines - 1 if margins is None else margins.bottom
        if y == bottom:
            grid = self.grid
            del grid[0 if margins is None else margins.top]
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

    # --- characters within a line ----------------------------------------------------------
    def _insert_blanks(self, line: Line, x: int, count: int) -> None:
        cols = self.columns
        count = min(count, cols - x)
        chars, rends = line.chars, line.rends
        if chars[x] == "" and x:  # inserting inside a wide character splits (blanks) it
            chars[x - 1] = chars[x] = " "
        chars[x:x] = [" "] * count
        rends[x:x] = [self.bce] * count
        del chars[cols:], rends[cols:]
        if is_wide(chars[cols - 1]):  # its right half was pushed off the edge
            chars[cols - 1] = " "
        line.row = None

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
        if chars[x] == "" and x:
            chars[x - 1] = " "
        del chars[x : x + count], rends[x : x + count]
        chars.extend([" "] * count)
        rends.extend([self.bce] * count)
        if chars[x] == "":  # the right half of a wide character whose left half was deleted
            chars[x] = " "
        line.row = None

    def _erase(self, y: int, start: int, end: int) -> None:
        """Blank columns [start, end) of line y with the background colour."""
        cols = self.columns
        if start >= end:
            return
        if start == 0 and end >= cols:
            self.grid[y] = self._blank()
            return
        line = self.grid[y]
        chars = line.chars
        if start and chars[start] == "":
            chars[start - 1] = " "
        if end < cols and chars[end] == "":
            chars[end] = " "
        chars[start:end] = [" "] * (end - start)
        line.rends[start:end] = [self.bce] * (end - start)
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

    # --- cursor motion ---------------------------------------------------------------------
    def _clamp_x(self) -> None:
        # Any explicit motion cancels a pending wrap (tmux clamps cx the same way).
        if self.cursor.x >= self.columns:
            self.cursor.x = self.columns - 1

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

    def _line_in_origin(self, line: int | None) -> int:
        """Row index for a 1-based line parameter, relative to and clamped into the scrolling
        region in origin mode (pyte ignored a CUP past the region instead)."""
        y = (line or 1) - 1
        if mo.DECOM in self.mode:
            top, bottom = self.region()
            return min(top + y, bottom)
        return min(y, self.lines - 1)

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
        self.saved = _SavedCursor(
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

    def soft_reset(self) -> None:
        """DECSTR (CSI ! p)."""
        self.mode.difference_update({mo.IRM, mo.DECOM, DECCKM})
        self.mode.update({mo.DECTCEM, mo.DECAWM})
        self.app_keypad = False
        self.margins = None
        self._set_pen((DEFAULT_COLOR, DEFAULT_COLOR, 0))
        self.g0_charset = self.g1_charset = cs.LAT1_MAP
        self.charset = 0
        self._update_translate()
        self.saved = None

    # --- the alternate screen --------------------------------------------------------------
    def _alternate_on(self, save_cursor: bool) -> None:
        """?47/?1047/?1049 set, as tmux: a cleared alternate screen; ?1049 saves the cursor."""
        if self._main_grid is not None:
            return
        if save_cursor:
            self._alt_saved = (self.cursor.x, self.cursor.y, self.pen_tuple)
        self._main_grid = self.grid
        self.grid = [blank_line(self.columns, DEFAULT_RENDITION) for _ in range(self.lines)]

    def _alternate_off(self, restore_cursor: bool) -> None:
        """Back to the main screen, exactly as it was; ?1049 restores the cursor and pen."""
        if self._main_grid is not None:
            self.grid = self._main_grid
            self._main_grid = None
        if restore_cursor and self._alt_saved is not None:
            x, y, pen = self._alt_saved
            self.cursor.x = min(x, self.columns - 1)
            self.cursor.y = min(y, self.lines - 1)
            self._set_pen(pen)

    # --- modes ---------------------------------------------------------------------------------
    def set_mode(self, *modes: int, **kwargs: object) -> None:
        private = bool(kwargs.get("private"))
        for mode in modes:
            if private:
                self._set_private_mode(mode, True)
            elif mode in _TRACKED_ANSI:
                self.mode.add(mode)

    def reset_mode(self, *modes: int, **kwargs: object) -> None:
        private = bool(kwargs.get("private"))
        for mode in modes:
            if private:
                self._set_private_mode(mode, False)
            elif mode in _TRACKED_ANSI:
                self.mode.discard(mode)

    def _set_private_mode(self, mode: int, on: bool) -> None:
        if mode in _TRACKED_PRIVATE:
            if on:
                self.mode.add(mode << 5)
            else:
                self.mode.discard(mode << 5)
            if mode == 6:  # DECOM homes the cursor either way
                self.cursor_position()
        elif mode in _MOUSE_REPORTING:  # the last one set wins; resetting it turns mouse off
            if on:
                self.mouse_reporting = mode
            elif self.mouse_reporting == mode:
                self.mouse_reporting = 0
        elif mode in _MOUSE_ENCODINGS:
            if on:
                self.mouse_encoding = mode
            elif self.mouse_encoding == mode:
                self.mouse_encoding = 0
        elif mode == 66:  # DECNKM, the mode form of ESC = / ESC >
            self.app_keypad = on
        elif mode in (47, 1047, 1049):
            if on:
                self._alternate_on(save_cursor=mode == 1049)
            else:
                self._alternate_off(restore_cursor=mode == 1049)
        elif mode == 1048:
            if on:
                self.save_cursor()
            else:
                self.restore_cursor()
        elif mode == 3:
            self._column_mode()
        # Other modes have no effect on the screen.

    def _column_mode(self) -> None:
        """DECCOLM (?3 set or reset): what a VT100 does when switching between 80 and 132
        columns, except the switch itself: an application must not resize the session (pyte
        resized the screen to 132 columns), so the column count stays. The margins are reset,
        the cursor homed and the screen cleared in the background colour."""
        self.margins = None
        self.cursor_position()
        self.erase_in_display(2)

    # --- SGR -----------------------------------------------------------------------------------
    def sgr(self, params: str) -> None:
        pen = apply_sgr_memo(params, self.pen_tuple)
        if pen != self.pen_tuple:
            self._set_pen(pen)

    def select_graphic_rendition(self, *attrs: int, **kwargs: object) -> None:
        if not kwargs.get("private"):
            self.sgr(";".join(map(str, attrs)))

    # --- reports, titles, clipboard ----------------------------------------------------------
    def write_process_input(self, data: str) -> None:
        self.replies += data.encode()

    def report_device_attributes(self, mode: int = 0, **kwargs: object) -> None:
        if mode != 0:
            return
        if kwargs.get("secondary"):
            self.replies += SECONDARY_DA
        elif not kwargs.get("private"):
            self.replies += PRIMARY_DA

    def report_device_status(self, mode: int = 0, **kwargs: object) -> None:
        row = self.cursor.y + 1
        column = min(self.cursor.x, self.columns - 1) + 1
        if mo.DECOM in self.mode:
            row -= self.region()[0]
        if kwargs.get("private"):
            if mode == 6:  # DECXCPR
                self.replies += f"\x1b[?{row};{column}R".encode()
        elif mode == 5:
            self.replies += b"\x1b[0n"
        elif mode == 6:
            self.replies += f"\x1b[{row};{column}R".encode()

    def set_title(self, param: str) -> None:
        self.title = param[:_MAX_TEXT_FIELD]

    def set_icon_name(self, param: str) -> None:
        self.icon_name = param[:_MAX_TEXT_FIELD]

    def set_clipboard(self, selection: str, data: str) -> None:
        serial = self.clipboard.serial + 1 if self.clipboard else 1
        self.clipboard = Clipboard(serial, selection, data)

    # --- resize --------------------------------------------------------------------------------
    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        """Trim or pad each line (no reflow) and keep the cursor row on screen: lines below the
        cursor go first, then lines from the top, as tmux does."""
        lines = lines or self.lines
        columns = columns or self.columns
        if (lines, columns) == (self.lines, self.columns):
            return
        old_columns = self.columns
        self.columns = columns
        removed = resize_grid(self.grid, lines, columns, self.cursor.y)
        self.cursor.y = max(self.cursor.y - removed, 0)
        if self._main_grid is not None:
            saved_y = self._alt_saved[1] if self._alt_saved is not None else self.cursor.y
            removed_main = resize_grid(self._main_grid, lines, columns, saved_y)
            if self._alt_saved is not None:
                x, y, pen = self._alt_saved
                self._alt_saved = (x, max(y - removed_main, 0), pen)
        self.lines = lines
        self.cursor.y = min(self.cursor.y, lines - 1)
        if columns != old_columns and self.cursor.x >= columns:
            self.cursor.x = columns - 1
        self.margins = None
        self.tabstops = {t for t in self.tabstops if t < columns}
        self.tabstops.update(range((old_columns + 7) // 8 * 8, columns, 8))
        self.dirty.update(range(lines))
