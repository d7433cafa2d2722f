"""The state every part of `termemu.screen.EmulatorScreen` shares, and the helpers they all use.

`ScreenBase` declares the cursor, pen, grid, modes and alternate-screen state (pyte's `Screen`
keeps the cursor, margins, mode set, tab stops and charsets), and holds what more than one job
needs: the pen, the scrolling region, blank lines in the background colour, the character set
in force, the cell-level insert and erase, and the origin-mode and pending-wrap rules for the
cursor. The jobs themselves are mixins on top of it (`termemu.drawing`, `termemu.editing`,
`termemu.motion`, `termemu.modes`), combined in `termemu.screen`.

Conventions kept from pyte: DEC private modes in the mode set as `mode << 5`, a pending
last-column wrap shown as `cursor.x == columns` (as tmux does).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyte
from pyte import charsets as cs
from pyte import modes as mo
from pyte.screens import Cursor, Margins

from ssp.history import History
from ssp.screen import (
    CHOICE_MODES,
    DEFAULT_COLOR,
    DEFAULT_RENDITION,
    FLAG_MODES,
    Clipboard,
    Modes,
    Rendition,
    Row,
    blank_row,
    intern_rendition,
    is_wide,
    repair_wide_pairs,
    unpair_span,
)
from termemu.lines import Line, blank_line
from termemu.sgr import Pen

# The forwarded DEC private modes (ssp.screen.FLAG_MODES), in pyte's encoding (number << 5),
# plus the two the screen itself obeys: DECOM (6) and DECAWM (7).
FLAG_BITS = tuple(flag.number << 5 for flag in FLAG_MODES)
TRACKED_PRIVATE = frozenset({flag.number for flag in FLAG_MODES} | {6, 7})
DEFAULT_MODES = frozenset({mo.DECAWM} | {flag.number << 5 for flag in FLAG_MODES if flag.default})
_BIT_OF = {flag.name: flag.number << 5 for flag in FLAG_MODES}
DECCKM = _BIT_OF["app_cursor_keys"]
APP_KEYPAD = _BIT_OF["app_keypad"]  # DECNKM; ESC = and ESC > set it too


@dataclass(slots=True)
class SavedCursor:
    """The DECSC slot: position, pen, origin mode, autowrap and character sets."""

    x: int
    y: int
    pen: Pen
    origin: bool
    autowrap: bool
    g0: str
    g1: str
    charset: int


class ScreenBase(pyte.Screen):  # pyte 0.8.2 ships py.typed
    def __init__(self, columns: int, lines: int) -> None:
        self.replies = bytearray()
        self.title = ""
        self.icon_name = ""
        self.bell_count = 0
        self.clipboard: Clipboard | None = None
        self.grid: list[Line] = []
        # Where lines that scroll off the top of the main screen go (the session's scrollback;
        # None: nowhere). Only a scroll of the whole screen counts, as in tmux: LF, IND, NEL
        # or autowrap at the bottom row, and SU, with no scrolling region (margins None).
        self.history: History | None = None
        self._main_grid: list[Line] | None = None  # the main screen while the alternate shows
        self._alt_saved: tuple[int, int, Pen] | None = None  # ?1049's cursor save
        self._modes_key: tuple[object, ...] = ()
        self._modes = Modes()
        # CHOICE_MODES' values (mouse reporting and encoding), by Modes field name
        self.choice_modes: dict[str, int] = {}
        self._blank_cache: Row | None = None
        self._blank_bce: Rendition | None = None  # the rendition _blank_cache was made for
        # With autowrap off, the line whose last column the cursor sits on because a character
        # was just written there (the cursor cannot move past it): a combining mark joins that
        # cell, not the one before. The next character drawn anywhere else forgets it.
        self._edge_line: Line | None = None
        super().__init__(columns, lines)  # calls our reset()
        self.mode = set(DEFAULT_MODES)

    # --- state helpers -------------------------------------------------------------------------
    def reset(self) -> None:
        """RIS: everything back to power-on, except title, icon, bell count and clipboard
        (they describe the session, not the screen)."""
        self.margins: Margins | None = None
        self.mode = set(DEFAULT_MODES)
        self.charset = 0
        self.g0_charset = cs.LAT1_MAP
        # xterm and tmux start G1 as ASCII too; pyte's line-drawing G1 would garble text after a
        # stray SO.
        self.g1_charset = cs.LAT1_MAP
        self._translate: str | None = None
        self.tabstops = set(range(8, self.columns, 8))
        self.cursor = Cursor(0, 0)
        self._set_pen((DEFAULT_COLOR, DEFAULT_COLOR, 0))
        self.saved: SavedCursor | None = None
        self.savepoints = []  # pyte's unbounded DECSC stack stays empty: we keep one slot
        self.grid = [blank_line(self.columns, DEFAULT_RENDITION) for _ in range(self.lines)]
        self._main_grid = None
        self._alt_saved = None
        self.choice_modes = {choice.name: 0 for choice in CHOICE_MODES}
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

    def _keep_scrolled_off(self, count: int) -> None:
        """The top `count` lines of the whole-screen region are about to scroll off: keep
        them in the scrollback, unless the alternate screen shows (its lines never count)."""
        history = self.history
        if history is None or self._main_grid is not None:
            return
        # The lines themselves: nothing changes them once off the grid, and most of a flood's
        # are evicted before anyone reads them (ssp.history turns them into rows if read).
        if count == 1:
            history.append_lazy(self.grid[0])
        else:
            history.extend_lazy(self.grid[:count], self.columns)

    def _blanks(self, count: int) -> list[Line]:
        return [self._blank() for _ in range(count)]

    @property
    def grid_is_main(self) -> bool:
        """Whether the main screen shows (not the alternate one)."""
        return self._main_grid is None

    @property
    def translating(self) -> bool:
        """Whether a character set other than ASCII (DEC graphics) is in use for drawing."""
        return self._translate is not None

    def _update_translate(self) -> None:
        table = self.g1_charset if self.charset else self.g0_charset
        self._translate = None if table is cs.LAT1_MAP else table

    @property
    def app_keypad(self) -> bool:
        """Application keypad (DECKPAM, DECNKM): kept in the mode set like the other flags."""
        return APP_KEYPAD in self.mode

    @app_keypad.setter
    def app_keypad(self, on: bool) -> None:
        if on:
            self.mode.add(APP_KEYPAD)
        else:
            self.mode.discard(APP_KEYPAD)

    def repair(self) -> None:
        """Restore the invariants after a handler failed half-way (a bug, never expected)."""
        width, height = self.columns, self.lines
        if len(self.grid) != height:
            self.grid = (self.grid + self._blanks(height))[:height]
        for line in self.grid:
            if len(line.chars) != width or len(line.rends) != width:
                line.chars = (line.chars + [" "] * width)[:width]
                line.rends = (line.rends + [DEFAULT_RENDITION] * width)[:width]
            repair_wide_pairs(line.chars)
            line.row = None
        self.cursor.x = min(max(self.cursor.x, 0), width)
        self.cursor.y = min(max(self.cursor.y, 0), height - 1)

    @property
    def display(self) -> list[str]:
        return ["".join(line.chars) for line in self.grid]

    # --- cells: shared by drawing (IRM) and editing --------------------------------------------
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
        unpair_span(chars, start, end)
        chars[start:end] = [" "] * (end - start)
        line.rends[start:end] = [self.bce] * (end - start)
        line.row = None

    # --- the cursor: pending wrap and origin mode ----------------------------------------------
    def _clamp_x(self) -> None:
        # Any explicit motion cancels a pending wrap (tmux clamps cx the same way).
        if self.cursor.x >= self.columns:
            self.cursor.x = self.columns - 1

    def _line_in_origin(self, line: int | None) -> int:
        """Row index for a 1-based line parameter, relative to and clamped into the scrolling
        region in origin mode (pyte ignored a CUP past the region instead)."""
        y = (line or 1) - 1
        if mo.DECOM in self.mode:
            top, bottom = self.region()
            return min(top + y, bottom)
        return min(y, self.lines - 1)
