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

Scrollback: when the screen keeps its scrolled-off lines, the skipped lines go to the history
in order (`termemu.flood_history`).

The plainest flood of all (`seq`, `yes`, `cat` of a log: short printable ASCII lines ended by
CR LF, default pen, cursor on the bottom row) is taken whole by `skip_plain_lines`, with or
without scrollback: the rows the screen shows at the end are made from the text itself, so
nothing is left for full emulation but what follows the last CR LF.
"""

from __future__ import annotations

import re

from pyte import modes as mo

from ssp.screen import unpair_span
from termemu.flood_effects import DEFAULT_PEN, last_printed, pen_after, text_line
from termemu.flood_history import skip_into_history
from termemu.lines import Line
from termemu.screen import EmulatorScreen

# A run (see above). Printable = not C0, DEL or C1, as the parser's text class. The CSI forms
# are exactly what the parser dispatches to `sgr()` / `erase_in_line()`: no private marker, no
# intermediates.
# (The class is spelled as ranges, not `[^\x0e\x0f\x1b]`: re matches it ~5x faster.)
_RUN = re.compile(r"(?:[\x00-\x0d\x10-\x1a\x1c-\U0010ffff]+|\x1b\[[0-9;:]*[mK])*")
# Text whose effect on the cursor column is `_column_after` (no CR, TAB, BS, wide or
# zero-width characters, no SGR).
_ASCII_LINES = re.compile(r"[\x20-\x7e\n]*")


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
    return skip_flood_at(screen, data, pos, end)[0]


def skip_run(screen: EmulatorScreen, data: str, pos: int) -> tuple[int, int | None, int]:
    """For the parser, at data[pos] in the ground state: `skip_flood_at` over the run that
    starts there, (where full emulation goes on, where to look again when nothing was skipped
    (None: no such place), where the scan of the run stopped)."""
    if _keeps_history(screen):
        # (It finds its run's extent itself: its shape is stricter, no need to scan twice.)
        return skip_into_history(screen, data, pos, len(data))
    end = run_end(data, pos)
    if end == pos:
        return pos, None, pos
    resume, retry = skip_flood_at(screen, data, pos, end)
    return resume, retry, end


def _keeps_history(screen: EmulatorScreen) -> bool:
    return screen.history is not None and screen.margins is None and screen.grid_is_main


def skip_flood_at(screen: EmulatorScreen, data: str, pos: int, end: int) -> tuple[int, int | None]:
    """`skip_flood`, and where to look again when nothing was skipped: None for the end of
    the run, or a position a few lines on when the screen may be ready there (scrollback)."""
    if _keeps_history(screen):
        resume, retry, _ = skip_into_history(screen, data, pos, end)
        return resume, retry
    if screen.translating:
        return pos, None  # DEC graphics: keep it simple, floods of it do not happen
    top, bottom = screen.region()
    y = screen.cursor.y
    if not top <= y <= bottom:
        return pos, None  # above the region rows would stay; below it LF does not scroll
    region = bottom - top + 1
    if data.count("\n", pos, end) <= region:
        return pos, None
    # `last` is the region-th LF from the end: from it on, R line feeds (invariant 3).
    last = end
    for _ in range(region):
        last = data.rfind("\n", pos, last)
    return _skip(screen, data, pos, last, top, bottom), None


def _skip(screen: EmulatorScreen, data: str, pos: int, last: int, top: int, bottom: int) -> int:
    y = screen.cursor.y
    anchor, x = _anchor(screen, data, pos, last)
    if anchor <= pos or data.count("\n", pos, anchor) < bottom - y:
        return pos  # nothing to skip, or the cursor might not have reached `bottom` (2.)
    prefix = data[pos:anchor]
    # Everything computed first: nothing is changed unless all of it succeeded.
    pen = pen_after(prefix, screen.pen_tuple)
    last_char = last_printed(prefix, screen.columns)
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


def skip_plain_lines(screen: EmulatorScreen, data: str, pos: int) -> int:
    """The commonest flood (`seq`, `yes`, `cat` of a log), quickest: lines of printable ASCII,
    none wider than the rest of the row, each ended by CR LF, drawn with the default pen from
    the bottom row of a screen without margins. Skips them all (where full emulation goes on),
    or returns pos if data[pos:] does not start with more of them than the screen has rows.

    Their effect is known without emulating any: each CR LF scrolls one row off, so the rows
    the screen held (the bottom one with line 0 drawn over it from the cursor's column) and
    all but the last R - 1 lines scroll off, in that order (to the history, if kept), and the
    screen shows those R - 1 lines above a blank bottom row, cursor at its column 0. Unlike
    the general skip (`skip_flood_at`) nothing is left for full emulation to redraw."""
    cursor = screen.cursor
    bottom = screen.lines - 1
    columns = screen.columns
    x = cursor.x
    if (
        cursor.y != bottom
        or (x and data.startswith("\n", pos))  # a bare LF: the next line would not start at 0
        or screen.margins is not None
        or screen.translating
        or mo.IRM in screen.mode
        or mo.DECAWM not in screen.mode  # (a full line would leave the edge marker on screen)
        or screen.pen_tuple != DEFAULT_PEN
    ):
        return pos
    match = _plain_crlf_lines(columns).match(data, pos)
    if match is None:
        return pos
    anchor = match.end()
    feeds = data.count("\n", pos, anchor)
    if feeds <= bottom + 1:
        return pos
    first_end = data.find("\n", pos, anchor) - 1  # line 0 ends here (at its CR, or at pos)
    if first_end < pos:  # a slice cut between CR and LF: line 0 is empty
        first_end = pos
    elif x + first_end - pos > columns:
        return pos  # line 0 would wrap (from a pending wrap, x = columns, too)
    # Where the lines the screen keeps start: after the R-th LF from the end.
    kept = anchor - 1
    for _ in range(bottom):
        kept = data.rfind("\n", pos, kept)
    kept += 1
    bottom_line = screen.grid[bottom]
    first = Line(list(bottom_line.chars), list(bottom_line.rends), None)
    size = first_end - pos
    if size:
        unpair_span(first.chars, x, x + size)
        first.chars[x : x + size] = data[pos:first_end]
        first.rends[x : x + size] = [screen.pen] * size
    history = screen.history
    if history is not None and screen.grid_is_main:
        history.extend_lazy([*screen.grid[:bottom], first], columns)
        between = first_end + 2 if data.startswith("\r", first_end) else first_end + 1
        history.add_text_block(data[between : kept - 2], feeds - 1 - bottom)
    lines = data[kept:anchor].split("\r\n")  # the R - 1 rows kept, and "" (the blank bottom row)
    last_char = last_printed(data[pos:anchor], columns)
    screen.grid = [text_line(text, columns, screen) for text in lines]
    screen.skipped_text(0, bottom, DEFAULT_PEN, 0, last_char)
    return anchor


def _plain_crlf_lines(columns: int) -> re.Pattern[str]:
    """Lines of printable ASCII, at most `columns` each, ended by CR LF (possessive: no
    backtracking); maybe after an LF (a slice cut between CR and LF)."""
    pattern = _PLAIN_CRLF.get(columns)
    if pattern is None:
        line = f"[\\x20-\\x7e]{{0,{columns}}}+"
        pattern = _PLAIN_CRLF[columns] = re.compile(f"\\n?(?:{line}\\r\\n)*+")
    return pattern


_PLAIN_CRLF: dict[int, re.Pattern[str]] = {}
