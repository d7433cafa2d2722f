"""The flood fast path: skip output that scrolls away before any frame could show it.

`seq 1 2000000`, `yes` or `cat` of a big file send thousands of lines per 16 KiB slice, and
all but the last screenful scroll off before the next snapshot (there is no scrollback). Full
emulation of those lines costs ~3 dispatches each; this module proves most of them invisible
and jumps over them, leaving exactly the state full emulation would have left.

The argument. Take a *run*: a stretch of text holding only

    any character but ESC, SO and SI (so: printable text of any width, CR, LF, VT, FF, TAB, BS,
    BEL, and the C0/C1 controls the parser ignores), plain SGR (`CSI [0-9;:]* m`) and plain EL
    (`CSI [0-9;:]* K`: grep --color sends one after each coloured match),

with the cursor inside the scrolling region [top, bottom] (R = bottom - top + 1 rows), no
character-set translation active, and the parser in its ground state. Inside a run:

1. The cursor only moves within the region: LF, VT, FF and autowrap `index()` down to
   `bottom` and then scroll the region; CR, TAB and BS move it along its row. Rows outside the
   region are never touched.
2. So if the run is cut at an *anchor* k such that the part before k holds at least
   `bottom - y` LFs, the cursor is on row `bottom` at k whatever else happened (wraps only add
   more index()es, and index() at `bottom` scrolls instead of moving).
3. If the part after k holds at least R LFs, each of them scrolls the region, so every line
   that was in the region at k is gone by the end of the run: the rows the region shows then
   were all scrolled in (blank, in the background colour of that moment) and written *after*
   k. What the part before k did to the grid cannot be seen; what it did to anything else
   must be reproduced:
   - cursor row: `bottom` (2.);
   - cursor column and the pending-wrap flag: an anchor is placed right after a CR, which
     sets x = 0 and clears the pending wrap whatever came before; or, for bare-LF text with no
     CR before it, right after an LF when everything before is ASCII printables and LFs,
     whose effect on x is a closed formula (`_column_after`) because LF never changes x
     (unless LNM, which sets it to 0);
   - the pen: SGRs before k folded in order (only from the last full reset on);
   - the bell count: plus the BELs before k (BEL only ends strings, and a run holds none);
   - the last printed character (for REP): the last character before k that `draw()` would
     have stored (width 1..columns, after stripping SGRs, ELs and controls);
   - the autowrap-off "cursor sits on the cell it just wrote" marker: cleared if the part
     before k drew anything (it then points to a line of the region, which scrolls away in the
     part after k (3.), or to none), kept otherwise.
   Title, icon, modes, margins, tab stops, charsets, replies and the DECSC slot are untouched
   by everything a run may contain; EL changes nothing but the cursor's row.
4. The part after k is then fed through full emulation as usual, so the visible rows and the
   final cursor are computed by the same code as always.

The anchor is the last possible one, so full emulation sees about R lines per run. The scan is
a handful of C-level string operations over the run (`re.match`, `str.count`, `rfind`), so the
cost stays proportional to the data, and nothing is skipped unless the run is longer than R
lines.
"""

from __future__ import annotations

import re

from pyte import modes as mo

from ssp.width import char_width
from termemu.screen import EmulatorScreen
from termemu.sgr import Pen, apply_sgr_memo

# A run (see above). Printable = not C0, DEL or C1, as the parser's text class. The CSI forms
# are exactly what the parser dispatches to `sgr()` / `erase_in_line()`: no private marker, no
# intermediates.
# (The class is spelled as ranges, not `[^\x0e\x0f\x1b]`: re matches it ~5x faster.)
_RUN = re.compile(r"(?:[\x00-\x0d\x10-\x1a\x1c-\U0010ffff]+|\x1b\[[0-9;:]*[mK])*")
_RUN_CSI = re.compile(r"\x1b\[[0-9;:]*[mK]")
_SGR = re.compile(r"\x1b\[([0-9;:]*)m")
# Text whose effect on the cursor column is `_column_after` (no CR, TAB, BS, wide or
# zero-width characters, no SGR).
_ASCII_LINES = re.compile(r"[\x20-\x7e\n]*")
_CONTROLS = "\x07\x08\t\n\r"  # the common ones, stripped at C speed first


def _column_after(x: int, printed: int, columns: int, autowrap: bool) -> int:
    """The cursor column after `printed` single-width characters drawn from column x (x may be
    `columns`, a pending wrap). Line feeds in between do not matter: they never change x.

    Autowrap on: the characters land on consecutive cells of an unbounded line folded every
    `columns` cells, so the last lands at (x + printed - 1) % columns and the cursor is one
    past it (`columns` = a pending wrap). Autowrap off: the cursor moves right and stops at
    the last column (from a pending wrap, x = `columns`, too).
    """
    if printed == 0:
        return x
    if autowrap:
        return (x + printed - 1) % columns + 1
    return min(x + printed, columns - 1)


def _last_printed(text: str, columns: int) -> str | None:
    """The character `draw()` would store as `last_char` after `text`, None if no such."""
    if "\x1b" in text:
        text = _RUN_CSI.sub("", text)
    i = len(text.rstrip(_CONTROLS))
    while i:
        i -= 1
        char = text[i]
        if "\x20" <= char < "\x7f":
            return char
        if char < "\xa0":
            continue  # C0, DEL, C1: never drawn
        # Zero-width characters join a cell, wider-than-the-screen ones are dropped: neither
        # becomes the character REP repeats.
        if 0 < char_width(char) <= columns:
            return char
    return None


def _pen_after(text: str, pen: Pen) -> Pen:
    """The pen after the SGRs in `text`, in order (those before the last full reset cannot
    matter)."""
    if "\x1b" not in text:
        return pen
    for params in _SGR.findall(text, _last_reset(text)):
        pen = apply_sgr_memo(params, pen)
    return pen


def _last_reset(text: str) -> int:
    """Where the last SGR that starts with a full reset (`CSI m`, `CSI 0 m`, `CSI 0 ; ... m`)
    begins in `text`, 0 if none is found (the pen is then folded from the start: slower, still
    right)."""
    best = max(text.rfind("\x1b[m"), text.rfind("\x1b[0m"))
    end = len(text)
    while (found := text.rfind("\x1b[0;", best + 1, end)) >= 0:
        if _SGR.match(text, found):  # not an EL such as CSI 0 ; 1 K
            return found
        end = found
    return max(best, 0)


def run_end(data: str, pos: int) -> int:
    """Where the run starting at data[pos] ends (pos itself if none starts there)."""
    m = _RUN.match(data, pos)
    return pos if m is None else m.end()


def skip_flood(screen: EmulatorScreen, data: str, pos: int, end: int) -> int:
    """Skip the invisible part of the run data[pos:end]: apply its lasting effects to
    `screen` and return where full emulation must continue (pos if nothing can be skipped).

    The caller guarantees the parser is in its ground state at pos and that data[pos:end] is
    a run.
    """
    if screen.translating:
        return pos  # DEC graphics: keep it simple, floods of it do not happen
    top, bottom = screen.region()
    y = screen.cursor.y
    if not top <= y <= bottom:
        return pos  # above the region rows would stay; below it LF does not scroll
    region = bottom - top + 1
    if data.count("\n", pos, end) <= region:
        return pos
    # `last` is the region-th LF from the end: from it on, R line feeds (invariant 3).
    last = end
    for _ in range(region):
        last = data.rfind("\n", pos, last)
    anchor, x = _anchor(screen, data, pos, last)
    if anchor <= pos or data.count("\n", pos, anchor) < bottom - y:
        return pos  # nothing to skip, or the cursor might not have reached `bottom` (2.)
    prefix = data[pos:anchor]
    # Everything computed first: nothing is changed unless all of it succeeded.
    pen = _pen_after(prefix, screen.pen_tuple)
    last_char = _last_printed(prefix, screen.columns)
    screen.skipped_text(x, bottom, pen, prefix.count("\x07"), last_char)
    return anchor


def _anchor(screen: EmulatorScreen, data: str, pos: int, last: int) -> tuple[int, int]:
    """The latest cut before data[last] where the cursor column is known: (anchor, column)."""
    cr = data.rfind("\r", pos, last)
    if cr >= 0:
        return cr + 1, 0  # CR: column 0, no pending wrap, whatever came before it
    # No CR at all: right after the LF before `last`, if all before it is ASCII lines.
    lf = data.rfind("\n", pos, last)
    if lf < pos or _ASCII_LINES.fullmatch(data, pos, lf) is None:
        return pos, 0
    if mo.LNM in screen.mode:
        return lf + 1, 0
    printed = (lf - pos) - data.count("\n", pos, lf)
    autowrap = mo.DECAWM in screen.mode
    return lf + 1, _column_after(screen.cursor.x, printed, screen.columns, autowrap)
