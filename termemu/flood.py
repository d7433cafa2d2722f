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

Scrollback. When the screen keeps its scrolled-off lines (`EmulatorScreen.history`, on the main
screen with no scrolling region), the skipped lines are not invisible any more: they go to the
history, in order, as full emulation would have put them there. That is done for runs of
lines (`_skip_into_history`) of printable ASCII, wide characters of `WIDE_CLASS` (CJK, kana,
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

The anchor is the last possible one, so full emulation sees about R lines per run. The scan is
a handful of C-level string operations over the run (`re.match`, `str.count`, `rfind`), so the
cost stays proportional to the data, and nothing is skipped unless the run is longer than R
lines.
"""

from __future__ import annotations

import re

from pyte import modes as mo

from ssp.history import History, lazy_block_cost
from ssp.screen import unpair_span
from ssp.width import char_width
from termemu.lines import Line, PhantomLine
from termemu.screen import EmulatorScreen
from termemu.scrollback import StyledBlock, emulate_lines
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
# The shape of run whose skipped lines go to the history (see "Scrollback" above).
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
_DEFAULT_PEN = (0, 0, 0)


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
    return skip_flood_at(screen, data, pos, end)[0]


def skip_flood_at(screen: EmulatorScreen, data: str, pos: int, end: int) -> tuple[int, int | None]:
    """`skip_flood`, and where to look again when nothing was skipped: None for the end of
    the run, or a position a few lines on when the screen may be ready there (scrollback)."""
    if screen.translating:
        return pos, None  # DEC graphics: keep it simple, floods of it do not happen
    top, bottom = screen.region()
    y = screen.cursor.y
    if not top <= y <= bottom:
        return pos, None  # above the region rows would stay; below it LF does not scroll
    keep = screen.history is not None and screen.margins is None and screen.grid_is_main
    if keep and (y != bottom or screen.cursor.x != 0):
        # Scrollback: look again once the cursor has reached the bottom row and column 0 (a
        # CR LF does), before scanning the run (it is scanned then).
        retry = pos
        for _ in range(bottom - y + 1):
            retry = data.find("\n", retry, end) + 1
            if not retry:
                return pos, None
        return pos, retry
    region = bottom - top + 1
    if data.count("\n", pos, end) <= region:
        return pos, None
    # `last` is the region-th LF from the end: from it on, R line feeds (invariant 3).
    last = end
    for _ in range(region):
        last = data.rfind("\n", pos, last)
    if keep:
        return _skip_into_history(screen, data, pos, end, last)
    return _skip(screen, data, pos, last, top, bottom), None


def _skip(screen: EmulatorScreen, data: str, pos: int, last: int, top: int, bottom: int) -> int:
    y = screen.cursor.y
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


def _skip_into_history(
    screen: EmulatorScreen, data: str, pos: int, end: int, last: int
) -> tuple[int, int | None]:
    """The skip when the scrolled-off lines go to the history (see "Scrollback" above)."""
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
        styled = "\x07" in body or screen.pen_tuple != _DEFAULT_PEN
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
            pen = _pen_after(body[first_end:last_lf], pen)
        else:
            history.add_text_block(body[first_end + 1 : last_lf], feeds - 1)
    if styled:
        lines, last_line, pen = emulate_lines(columns, modes, pen, None, body[last_lf:], tabs)
        history.extend_lazy(lines[1:], columns)
    else:
        last_line = _text_line(body[last_lf + 1 :], columns, screen)
    # Everything above the cursor's row is in the history now, and scrolls off before the
    # run ends (invariant 3): placeholders hold those rows meanwhile, and are not kept again
    # when they go (ScreenBase._keep_scrolled_off).
    placeholder = PhantomLine(columns)
    last_char = _last_printed(prefix, columns)
    screen.grid = [placeholder] * bottom + [last_line]
    screen.skipped_text(0, bottom, pen, body.count("\x07"), last_char)
    return anchor, None


def _shaped_lines(
    screen: EmulatorScreen, prefix: str
) -> tuple[str, int, bool, list[int] | None] | None:
    """For `_skip_into_history`: (body, its LFs, whether it needs emulation, each line's rows
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
    styled = "\x1b" in body or "\x07" in body or screen.pen_tuple != _DEFAULT_PEN
    plain = _RUN_CSI.sub("", body) if "\x1b" in body else body
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
            pen = _pen_after(text, pen)
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


def _text_line(text: str, columns: int, screen: EmulatorScreen) -> Line:
    """A line scrolled in blank (in the background colour) with `text` drawn from column 0."""
    size = len(text)
    return Line(
        list(text) + [" "] * (columns - size),
        [screen.pen] * size + [screen.bce] * (columns - size),
        None,
    )
