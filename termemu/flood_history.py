"""The flood fast path (`termemu.flood`) when the screen keeps its scrolled-off lines.

When the screen keeps its scrolled-off lines (`EmulatorScreen.history`, on the main screen with
no scrolling region), the skipped lines are not invisible any more: they go to the history, in
order, as full emulation would have put them there. The plainest floods never get here
(`termemu.flood.skip_plain_lines` takes them whole). The rest is done here (`skip_into_history`)
for runs of lines of printable ASCII, wide characters of `WIDE_CLASS` (CJK, kana, Hangul,
full-width forms: two columns each), TAB, SGR, EL and BEL, each ended by CR LF (as the PTY's
ONLCR makes them), starting from the bottom row at column 0, found by one possessive match
(`_LINES`, which also tells where the run's lines end: no separate scan of the run).

Like `skip_plain_lines` the run is taken whole, through its last CR LF: every CR LF scrolls,
so the R rows on screen scroll off first (the bottom one with line 0 drawn over it), then each
line's rows; the screen is left showing the last R - 1 rows above a blank bottom row, cursor at
its column 0. Those last rows are drawn by emulating the last lines on a one-row screen of the
same width, modes and tab stops (`termemu.scrollback.emulate_lines`); the lines before them go
to the history unbuilt, as blocks drawn on such a screen when read (`StyledBlock`, the first
one over a copy of the bottom row); in a long flood most are evicted first. A line takes one
row unless it wraps: its rows are counted without drawing it (`_rows_of`: from its UTF-8
size, and row by row only if it is wider than the screen; `_rows_tabbed` with the screen's tab
stops). Any other run (BS, combining marks, emoji, bare LFs after text) is emulated fully
while scrollback is kept (slower, still right); until the cursor reaches the bottom row and
column 0, the next look is a few lines on, before the run is scanned at all.
"""

from __future__ import annotations

import re

from pyte import modes as mo

from ssp.history import History, lazy_block_cost
from ssp.width import WIDE_CLASS
from termemu.flood_effects import RUN_CSI, last_printed, pen_after
from termemu.lines import Line
from termemu.screen import EmulatorScreen
from termemu.scrollback import StyledBlock, emulate_lines
from termemu.sgr import Pen

# Wide characters the history shape takes too (`WIDE_CLASS`: two columns and three bytes in
# UTF-8 each), so a line's width is len + (UTF-8 bytes - len) / 2, at C speed.
# The shape of run whose lines go to the history (see the module): text, then SGR or EL and
# text, repeated. Unrolled and possessive: about twice as fast as an alternation.
_TEXT = f"[\\x20-\\x7e\\r\\n\\x07\\t{WIDE_CLASS}]*+"
_LINES = re.compile(f"{_TEXT}(?:\\x1b\\[[0-9;:]*+[mK]{_TEXT})*+")
_TEXT_LF = re.compile(r"[^\r\n]\n")  # LF after text without a CR: the next line is not at x 0


def skip_into_history(
    screen: EmulatorScreen, data: str, pos: int, end: int
) -> tuple[int, int | None, int]:
    """`termemu.flood.skip_flood_at` when the scrolled-off lines go to the history (see the
    module), for data[pos:end]: (where full emulation goes on, where to look again when nothing
    was skipped and the screen may be ready there (None: no such place), where the scan
    stopped)."""
    cursor = screen.cursor
    bottom = screen.lines - 1
    if screen.translating or mo.IRM in screen.mode:
        return pos, None, pos
    if cursor.y != bottom or cursor.x != 0:
        # Look again once the cursor has reached the bottom row and column 0 (a CR LF does),
        # before scanning the run (it is scanned then).
        retry = pos
        for _ in range(bottom - cursor.y + 1):
            retry = data.find("\n", retry, end) + 1
            if not retry:
                return pos, None, end
        return pos, retry, end
    scanned = _LINES.match(data, pos, end).end()  # type: ignore[union-attr]  # (matches "")
    anchor = data.rfind("\r\n", pos, scanned) + 2  # the run is taken through its last CR LF
    if anchor < pos + 2:
        return pos, None, scanned
    body = data[pos:anchor]
    columns = screen.columns
    shaped = _shaped_lines(screen, body)
    if shaped is None:
        return pos, None, scanned
    feeds, sizes, plain = shaped
    # The tail: the last lines, enough to fill the R - 1 rows above the bottom one; the lines
    # before it (at least line 0) go to the history.
    tail = bottom
    if sizes is not None:
        tail = rows = 0
        while rows < bottom:
            tail += 1
            rows += sizes[feeds - tail]
    if feeds - tail < 1:
        return pos, None, scanned
    cut = len(body) - 1  # the LF ending the last line before the tail
    for _ in range(tail):
        cut = body.rfind("\n", 0, cut)
    modes = screen.mode
    tabs = frozenset(screen.tabstops) if "\t" in body else None
    pen = screen.pen_tuple
    # Everything computed first: nothing is changed unless all of it succeeded.
    lines, row, pen_end, edge = emulate_lines(
        columns, modes, pen_after(body[:cut], pen), None, body[cut:], tabs
    )
    last_char = last_printed(plain, columns)
    history = screen.history
    assert history is not None
    bottom_line = screen.grid[bottom]
    first = Line(list(bottom_line.chars), list(bottom_line.rends), None)
    history.extend_lazy(screen.grid[:bottom], columns)
    _add_styled_lines(history, body, cut, pen, columns, modes, sizes, tabs, first)
    del lines[0]  # the blank row the LF before the tail scrolled off
    extra = len(lines) - bottom  # the tail's first rows, when its lines wrap
    if extra:
        history.extend_lazy(lines[:extra], columns)
    screen.grid = [*lines[extra:], row]
    screen.skipped_text(0, bottom, pen_end, body.count("\x07"), last_char)
    if edge is not None and any(line is edge for line in screen.grid):
        screen._edge_line = edge  # autowrap off: the tail's last line reached the edge
    return anchor, None, scanned


def _shaped_lines(screen: EmulatorScreen, body: str) -> tuple[int, list[int] | None, str] | None:
    """For `skip_into_history`: (body's LFs, each line's rows or None for one each, the body
    without SGR and EL) if `body` (of `_LINES`' shape, ended by CR LF) starts at the bottom
    row's column 0 and every line ends with CR LF, else None."""
    wide = not body.isascii()
    if wide and screen.columns < 2:
        return None  # wide characters are dropped there
    feeds = body.count("\n")
    crlf = body.count("\r\n")
    if body.count("\r") != crlf:
        return None  # a CR not ending a line
    if feeds != crlf and _TEXT_LF.search(body) is not None:
        return None  # text ended by a bare LF: the next line does not start at x 0
    if feeds <= screen.lines - 1:
        return None  # fewer lines than rows: nothing would reach the history
    plain = RUN_CSI.sub("", body) if "\x1b" in body else body
    if "\x07" in plain:
        plain = plain.replace("\x07", "")
    columns = screen.columns
    # Rows per line: one, unless a line is wider than the screen (and autowrap is on). Then
    # `sizes` has each line's rows: n characters take ceil(n / columns) rows (a full last row
    # is a pending wrap, which the CR ends).
    sizes: list[int] | None = None
    if mo.DECAWM not in screen.mode:
        pass  # nothing wraps: characters past the edge overwrite the last column
    elif "\t" in plain:
        stops = screen.tabstops
        lines = plain.replace("\r", "").split("\n")
        sizes = [_rows_tabbed(line, columns, stops) for line in lines]
    elif wide:
        text = plain.replace("\r", "")
        lines = text.split("\n")
        # Each line's width from its UTF-8 size (`_width`), all at once; rows counted one by one
        # only for the lines wider than the screen.
        encoded = map(len, text.encode().split(b"\n"))
        sizes = [
            1 if size + (raw - size) // 2 <= columns else _rows_of(line, columns)
            for line, size, raw in zip(lines, map(len, lines), encoded, strict=True)
        ]
    else:
        lines = plain.replace("\r", "").split("\n")
        if max(map(len, lines)) > columns:  # (at C speed: quicker than a regex search)
            sizes = [-(-len(line) // columns) or 1 for line in lines]
    return feeds, sizes, plain


def _add_styled_lines(
    history: History,
    body: str,
    end: int,
    pen: Pen,
    columns: int,
    modes: set[int],
    sizes: list[int] | None,
    tabs: frozenset[int] | None,
    first: Line,
) -> None:
    """The lines of body[:end] (`end`: the LF ending the last of them), line 0 drawn over
    `first`, as blocks of at most _BLOCK_LINES lines, so that reading a few builds few.
    `sizes`: each line's rows (None: one each)."""
    start = line = 0
    while not line or start < end:  # (the first block even when empty: line 0 is "")
        stop = start
        for _ in range(_BLOCK_LINES):
            stop = body.find("\n", stop + 1, end)
            if stop < 0:
                stop = end
                break
        text = body[start:stop]
        # The first block's text starts with line 0; the others' with the LF before theirs.
        count = text.count("\n") + (0 if start else 1)
        block_rows = count if sizes is None else sum(sizes[line : line + count])
        block = StyledBlock(text, pen, columns, modes, tabs, None if start else first)
        history.add_lazy_block(block, block_rows, lazy_block_cost(len(text), block_rows))
        line += count
        if stop < end:
            pen = pen_after(text, pen)
        start = stop


def _rows_of(line: str, columns: int) -> int:
    """The rows `line` (printable ASCII and `WIDE_CLASS` characters) takes drawn from column 0
    with autowrap: a character that does not fit on the rest of the row wraps first (a full
    last row is a pending wrap, which the CR ending the line clears)."""
    size = len(line)
    if line.isascii():
        return -(-size // columns) or 1
    if _width(line) <= columns:
        return 1
    # Row by row: half the room left in characters always fits (none is wider than two), so
    # each row takes a few slices measured at C speed; one column left takes a narrow one.
    rows, i = 0, 0
    while i < size:
        rows += 1
        room = columns
        while room > 1 and i < size:
            chunk = line[i : i + room // 2]
            room -= _width(chunk)
            i += len(chunk)
        if room == 1 and i < size and line[i] < "\x7f":
            i += 1
    return rows


def _rows_tabbed(line: str, columns: int, stops: set[int]) -> int:
    """`_rows_of` for a line with TABs: each moves to the next stop in `stops` or the last
    column (from a pending wrap too, which it cancels: `tab()`)."""
    rows, x = 1, 0
    for index, part in enumerate(line.split("\t")):
        if index:
            x = min(x, columns - 1) + 1
            while x < columns - 1 and x not in stops:
                x += 1
            x = min(x, columns - 1)
        if part.isascii():
            if x + len(part) > columns:  # wraps: the rest fills whole rows, then part of one
                over = x + len(part) - columns
                rows += -(-over // columns)
                x = (over - 1) % columns + 1
            else:
                x += len(part)
            continue
        for char in part:
            step = 1 if char < "\x7f" else 2
            if x + step > columns:
                rows += 1
                x = 0
            x += step
    return rows


def _width(text: str) -> int:
    """Columns of printable ASCII and `WIDE_CLASS` text (those take three UTF-8 bytes)."""
    size = len(text)
    return size + (len(text.encode()) - size) // 2


_BLOCK_LINES = 256
