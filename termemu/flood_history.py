"""The flood fast path (`termemu.flood`) when the screen keeps its scrolled-off lines.

When the screen keeps its scrolled-off lines (`EmulatorScreen.history`, on the main screen with
no scrolling region), the skipped lines are not invisible any more: they go to the history, in
order, as full emulation would have put them there. The plainest floods never get here
(`termemu.flood.skip_plain_lines` takes them whole). The rest is done for runs of lines
(`skip_into_history`) of printable ASCII, wide characters of `WIDE_CLASS` (CJK, kana,
Hangul, full-width forms: two columns each), TAB, SGR, EL and BEL, each ended by CR LF (as the
PTY's ONLCR makes them), starting from the bottom row at column 0. Then the R rows on screen
scroll off first (the bottom one with the run's first line drawn over it), followed by each
text line's rows, and the grid at the anchor is the last R of those. A line takes one row
unless it wraps: its rows are counted without drawing it (`_rows_of`: from its UTF-8 size, and
row by row only if it is wider than the screen; `_rows_tabbed` with the screen's tab stops).
Lines between go to the history unbuilt: short plain ASCII lines as one string
(`ssp.history`), anything else as blocks drawn when read on a one-row screen of the same
width, modes and tab stops (`termemu.scrollback`); in a long flood most are evicted first.
The commonest shape (short ASCII lines) is recognised by one possessive match
(`_short_crlf_lines`). Any other run (BS, combining marks, emoji, bare LFs after text) is
emulated fully while scrollback is kept (slower, still right); until the cursor reaches the
bottom row and column 0, the next look is a few lines on, before the run is scanned at all.
"""

from __future__ import annotations

import re

from pyte import modes as mo

from ssp.history import History, lazy_block_cost
from ssp.screen import unpair_span
from termemu.flood_effects import DEFAULT_PEN, RUN_CSI, last_printed, pen_after, text_line
from termemu.lines import Line, PhantomLine
from termemu.screen import EmulatorScreen
from termemu.scrollback import StyledBlock, emulate_lines
from termemu.sgr import Pen

# The shape of run whose skipped lines go to the history (see the module).
_LINES = re.compile(r"(?:[\x20-\x7e\r\n\x07\t]+|\x1b\[[0-9;:]*[mK])*")
_PLAIN_LINES = re.compile(r"[\x20-\x7e\r\n\x07\t]*")  # _LINES without SGR and EL
# Wide characters the history shape takes too (CJK, kana, Hangul, full-width forms): every one
# is two columns (`ssp.width.char_width`, checked by the tests) and three bytes in UTF-8, so a
# line's width is len + (UTF-8 bytes - len) / 2, at C speed.
WIDE_CLASS = (
    "\u3001-\u3003\u3008-\u3011\u3041-\u3096\u30a1-\u30fa\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7a3\uff01-\uff60"
)
_WIDE_LINES = re.compile(f"(?:[\\x20-\\x7e\\r\\n\\x07\\t{WIDE_CLASS}]+|\\x1b\\[[0-9;:]*[mK])*")
_WIDE_PLAIN_LINES = re.compile(f"[\\x20-\\x7e\\r\\n\\x07\\t{WIDE_CLASS}]*")
_TEXT_LF = re.compile(r"[^\r\n]\n")  # LF after text without a CR: the next line is not at x 0


def skip_into_history(
    screen: EmulatorScreen, data: str, pos: int, end: int, last: int
) -> tuple[int, int | None]:
    """`termemu.flood.skip_flood_at` when the scrolled-off lines go to the history (see the
    module)."""
    # (skip_flood_at made sure the cursor is at column 0 of the bottom row.)
    bottom = screen.lines - 1
    if mo.IRM in screen.mode:
        return pos, None
    anchor = data.rfind("\r", pos, last) + 1
    if anchor <= pos:
        return pos, None
    prefix = data[pos:anchor]  # ends with CR
    columns = screen.columns
    sizes: list[int] | None = None
    fast = _short_crlf_lines(columns).match(prefix)
    if fast is not None and fast.end() == len(prefix):
        # The commonest flood, in one C-level pass: ASCII lines ended by CR LF, none wider
        # than the screen (BEL counted as a column: too strict at worst).
        body = prefix[:-1]
        feeds = body.count("\n")
        if not feeds:
            return pos, None
        styled = "\x07" in body or screen.pen_tuple != DEFAULT_PEN
    else:
        shaped = _shaped_lines(screen, prefix)
        if shaped is None:
            return pos, None
        body, feeds, styled, sizes = shaped
    # Lines 0 .. feeds of the text: line 0 is drawn over the bottom row. In the order they
    # scroll off: the rows on screen, line 0's, those of lines 1 .. feeds-1 (as blocks, built
    # only if read), then line `feeds`'s, on whose last row the cursor is at the anchor.
    first_end = body.find("\n")
    last_lf = body.rfind("\n")
    bottom_line = screen.grid[bottom]
    first = Line(list(bottom_line.chars), list(bottom_line.rends), None)
    history = screen.history
    assert history is not None
    modes = screen.mode
    head: list[Line] = []
    tabs = frozenset(screen.tabstops) if styled and "\t" in body else None
    if styled:
        head, first, pen = emulate_lines(
            columns, modes, screen.pen_tuple, first, body[:first_end], tabs
        )
    else:
        text = body[:first_end].rstrip("\r")
        size = len(text)
        unpair_span(first.chars, 0, size)
        first.chars[0:size] = text
        first.rends[0:size] = [screen.pen] * size
        pen = screen.pen_tuple
    history.extend_lazy([*screen.grid[:bottom], *head, first], columns)
    if feeds > 1:
        if styled:
            _add_styled_lines(history, body, first_end, last_lf, pen, columns, modes, sizes, tabs)
            pen = pen_after(body[first_end:last_lf], pen)
        else:
            history.add_text_block(body[first_end + 1 : last_lf], feeds - 1)
    if styled:
        lines, last_line, pen = emulate_lines(columns, modes, pen, None, body[last_lf:], tabs)
        history.extend_lazy(lines[1:], columns)
    else:
        last_line = text_line(body[last_lf + 1 :], columns, screen)
    # Everything above the cursor's row is in the history now, and scrolls off before the
    # run ends (invariant 3): placeholders hold those rows meanwhile, and are not kept again
    # when they go (ScreenBase._keep_scrolled_off).
    placeholder = PhantomLine(columns)
    last_char = last_printed(prefix, columns)
    screen.grid = [placeholder] * bottom + [last_line]
    screen.skipped_text(0, bottom, pen, body.count("\x07"), last_char)
    return anchor, None


def _shaped_lines(
    screen: EmulatorScreen, prefix: str
) -> tuple[str, int, bool, list[int] | None] | None:
    """For `skip_into_history`: (body, its LFs, whether it needs emulation, each line's rows
    or None for one each) if `prefix` (which ends with a CR) has the shape it takes, else None."""
    # Without ESC a single character class does (several times faster than the alternation).
    wide = not prefix.isascii()
    if wide:
        if screen.columns < 2:
            return None  # wide characters are dropped there
        shape = _WIDE_PLAIN_LINES if "\x1b" not in prefix else _WIDE_LINES
    else:
        shape = _PLAIN_LINES if "\x1b" not in prefix else _LINES
    whole = shape.match(prefix)  # (not fullmatch: that would backtrack without end)
    if whole is None or whole.end() != len(prefix):
        return None
    body = prefix[:-1]
    feeds = body.count("\n")
    crlf = body.count("\r\n")
    if not feeds or body.count("\r") != crlf:
        return None  # nothing to skip, or a CR not ending a line
    if feeds != crlf and _TEXT_LF.search(body) is not None:
        return None  # text ended by a bare LF: the next line does not start at x 0
    styled = "\x1b" in body or "\x07" in body or screen.pen_tuple != DEFAULT_PEN
    plain = RUN_CSI.sub("", body) if "\x1b" in body else body
    if "\x07" in plain:
        plain = plain.replace("\x07", "")
    columns = screen.columns
    # Rows per line: one, unless a line is wider than the screen (and autowrap is on). Then
    # `sizes` has each line's rows: n characters take ceil(n / columns) rows (a full last row
    # is a pending wrap, which the CR ends).
    sizes: list[int] | None = None
    if "\t" in plain:
        styled = True  # TABs move the cursor: drawn by emulation, when read
        if mo.DECAWM in screen.mode:
            stops = screen.tabstops
            lines = plain.replace("\r", "").split("\n")
            sizes = [_rows_tabbed(line, columns, stops) for line in lines]
    elif wide:
        styled = True  # wide cells: drawn by emulation, when read
        if mo.DECAWM in screen.mode:
            sizes = [_rows_of(line, columns) for line in plain.replace("\r", "").split("\n")]
    elif plain.find("\n") > columns + 1 or _long_line(columns).search(plain) is not None:
        styled = True  # drawn by emulation: they wrap, or (autowrap off) overwrite the edge
        if mo.DECAWM in screen.mode:
            lengths = map(len, plain.replace("\r", "").split("\n"))
            sizes = [-(-length // columns) or 1 for length in lengths]
    return body, feeds, styled, sizes


def _short_crlf_lines(columns: int) -> re.Pattern[str]:
    """Matches lines of printable ASCII and BEL, at most `columns` each, ended by CR LF, then
    one more ended by CR (possessive: no backtracking); maybe after an LF (a slice cut
    between CR and LF: an empty line 0)."""
    pattern = _SHORT_CRLF.get(columns)
    if pattern is None:
        line = f"[\\x20-\\x7e\\x07]{{0,{columns}}}+"
        pattern = _SHORT_CRLF[columns] = re.compile(f"\\n?(?:{line}\\r\\n)*+{line}\\r")
    return pattern


_SHORT_CRLF: dict[int, re.Pattern[str]] = {}


def _add_styled_lines(
    history: History,
    body: str,
    start: int,
    end: int,
    pen: Pen,
    columns: int,
    modes: set[int],
    sizes: list[int] | None,
    tabs: frozenset[int] | None,
) -> None:
    """The lines of body[start:end] (which starts with the LF before the first, line 1 of the
    text, and holds an LF between each two) as blocks of at most _BLOCK_LINES lines, so that
    reading a few builds few. `sizes`: each text line's rows (None: one each)."""
    line = 1
    while start < end:
        stop = start
        for _ in range(_BLOCK_LINES):
            stop = body.find("\n", stop + 1, end)
            if stop < 0:
                stop = end
                break
        text = body[start:stop]
        count = text.count("\n")
        block_rows = count if sizes is None else sum(sizes[line : line + count])
        history.add_lazy_block(
            StyledBlock(text, pen, columns, modes, tabs),
            block_rows,
            lazy_block_cost(len(text), block_rows),
        )
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


def _long_line(columns: int) -> re.Pattern[str]:
    """Finds a line after the first with more than `columns` characters."""
    pattern = _LONG_LINES.get(columns)
    if pattern is None:
        pattern = _LONG_LINES[columns] = re.compile(f"\\n[^\\r\\n]{{{columns + 1}}}")
    return pattern


_LONG_LINES: dict[int, re.Pattern[str]] = {}
_BLOCK_LINES = 256
