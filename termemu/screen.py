"""The emulator's screen state: pyte's `Screen`, with the parts it gets wrong replaced.

What is ours: the cell store (a list of `termemu.lines.Line`s, which scroll by list splicing and
cache their `ssp.screen.Row`; pyte's sparse dict of dicts made every scroll touch every line),
renditions as `ssp.screen.Rendition`s (no conversion at snapshot time), the tokenizer
(`termemu.parser`, not pyte's `Stream`), SGR (`termemu.sgr`), and every handler where stock pyte
is wrong (tests/unit/termemu/test_pyte_gaps.py: the alternate screen, BCE, wide-character edges,
DL/SU/SD/ICH/DCH on untouched lines, origin-mode clamping, a single DECSC slot, ...). Widths
come from `ssp.width.char_width` only, so server and client agree.

Why it still subclasses `pyte.Screen`, although it overrides nearly every method: what it
still takes from pyte is small but spread everywhere: `Screen.__init__` (columns, lines,
`dirty`, `savepoints`, and pyte's own cell `buffer`, left empty), `carriage_return`, the
`Cursor` and `Margins` types, the mode constants (`pyte.modes`: IRM, LNM, DECOM, DECAWM, ...
and the `mode << 5` encoding of private modes), the charset tables (`pyte.charsets.LAT1_MAP`,
`VT100_MAP`), and its method names as the vocabulary the parser calls. Owning the grid outright
means defining those few types, constants and the VT100 graphics table here, then dropping the
base class, pyte's unused state (`dirty`, `savepoints`, `saved_columns`, `buffer`) and the pin
(pyte <0.9 in pyproject.toml); every handler is already ours. Until then the pin keeps a pyte
release from changing the base under us.

The class is split by job into mixins over `termemu.screenbase.ScreenBase`, which declares the
shared state and helpers: `termemu.drawing` (text), `termemu.editing` (scrolling, insert,
delete, erase), `termemu.motion` (cursor motion, tabs, margins, DECSC), `termemu.modes` (SM/RM,
DECSET, the forwarded modes, the alternate screen, charsets). No two parts define the same name
(tests/unit/termemu/test_screen_parts.py), so the order of the bases decides nothing. This
module keeps the rest: bell, SGR, replies, titles, clipboard and resize.
"""

from __future__ import annotations

from pyte import modes as mo

from ssp.screen import Clipboard
from termemu.drawing import Drawing
from termemu.editing import Editing
from termemu.lines import resize_grid
from termemu.modes import ModeHandling
from termemu.motion import Motion
from termemu.sgr import apply_sgr_memo

PRIMARY_DA = b"\x1b[?62c"  # "VT220, no options", as upstream mosh answers
SECONDARY_DA = b"\x1b[>1;10;0c"  # upstream mosh's answer
_MAX_TEXT_FIELD = 4096  # title / icon name


class EmulatorScreen(Drawing, Editing, Motion, ModeHandling):
    """The screen a `termemu.emulator.Emulator` drives (see the module docstring)."""

    def bell(self, *args: object) -> None:
        self.bell_count += 1

    # --- SGR -----------------------------------------------------------------------------------
    def sgr(self, params: str) -> None:
        pen = apply_sgr_memo(params, self.pen_tuple)
        if pen != self.pen_tuple:
            self._set_pen(pen)

    def select_graphic_rendition(self, *attrs: int, **kwargs: object) -> None:
        if not kwargs.get("private"):
            self.sgr(";".join(map(str, attrs)))

    # --- reports, titles, clipboard ------------------------------------------------------------
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
