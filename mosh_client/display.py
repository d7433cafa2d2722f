"""Render framebuffers onto the user's real terminal with minimal output.

`Display` remembers what it last drew (the rows, the pen, the cursor, the modes, the titles) and
turns the next framebuffer into the escape sequences that change only what differs: a scroll when
the new screen is the old one moved up, erase sequences for blank tails and long blank runs, SGR
only where the rendition changes, the cheapest cursor motion between writes.

The real terminal is assumed to be an xterm-like (xterm, tmux, VTE, kitty, ...). Autowrap is
turned off while we own the screen, so writing the last column never wraps or scrolls, and a
character-width disagreement between us and the terminal stays confined to its row.

The remote application's modes (cursor keys (DECCKM), keypad, bracketed paste, focus events,
reverse video, mouse reporting) are forwarded to the real terminal as they change, so keys and
reports come in the form the application asked for; `close()` switches them all off again.

Scrollback (`scrollback=True`, native sessions). The session's scrolled-off lines come with
the frames (`ssp.history`) and `write_history` puts them into the real terminal's own history
the way a program's output gets there: each line on the top row, then a line feed at the
bottom row of the whole screen, which scrolls the top row into the history; when the top row
already shows that line (the usual case: the screen scrolled on the server) the line feed
alone does it. What scrolling disturbed is repainted by the next `draw`, which knows what is
where. Nothing else may scroll the top row off or clear the screen in a way a terminal
records (tmux and VTE keep a screen cleared by ED 2): so `draw` scrolls with DL (delete line,
never recorded) instead of line feeds, repaints by erasing row by row, and the notification
bar is overwritten by the line before it would scroll. The alternate screen (`?1049`) is not
used, or the history would be the alternate screen's (none).

Everything here is pure: methods return bytes, the caller writes them.

One module because it is one job, the difference between what the terminal shows and the frame
as bytes: rows, pen, cursor motion and modes all depend on the pen and cursor it tracks.
"""

from __future__ import annotations

import re

from ssp.screen import (
    CHOICE_MODES,
    DEFAULT_COLOR,
    DEFAULT_RENDITION,
    FLAG_MODES,
    FlagMode,
    Framebuffer,
    Modes,
    Rendition,
    Row,
    blank_row,
    is_wide,
)
from ssp.sgr import sgr_absolute
from ssp.width import char_width

CSI = "\x1b["
_HIDE_CURSOR = "\x1b[?25l"
_SHOW_CURSOR = "\x1b[?25h"
_AUTOWRAP_OFF = "\x1b[?7l"
_AUTOWRAP_ON = "\x1b[?7h"
_CLEAR = "\x1b[0m\x1b[H\x1b[2J"
_PUSH_TITLE = "\x1b[22;0t"  # xterm's title stack: close() gives the user's title back
_POP_TITLE = "\x1b[23;0t"

# How a forwarded flag (ssp.screen.FLAG_MODES) is written when it is not `CSI ? n h/l`: the
# keypad as DECKPAM/DECKPNM, which every terminal knows, rather than DECNKM. Cursor visibility
# is left out: drawing manages it.
_FLAG_SEQUENCES = {"app_keypad": ("\x1b=", "\x1b>")}
_FORWARDED_FLAGS = tuple(flag for flag in FLAG_MODES if flag.name != "cursor_visible")
# Alternatives no frame sets that close() switches off all the same (mouse highlight tracking).
_ALSO_OFF = {"mouse_reporting": (1001,)}


def _flag_sequence(flag: FlagMode, on: bool) -> str:
    special = _FLAG_SEQUENCES.get(flag.name)
    if special is not None:
        return special[0] if on else special[1]
    return f"{CSI}?{flag.number}{'h' if on else 'l'}"


# Everything close() switches off, whatever we think the terminal's state is: mouse reporting
# left on would make the user's shell unusable.
_MODES_OFF = "".join(_flag_sequence(flag, False) for flag in _FORWARDED_FLAGS) + "".join(
    f"{CSI}?{number}l"
    for choice in CHOICE_MODES
    for number in sorted(choice.numbers + _ALSO_OFF.get(choice.name, ()), reverse=True)
)

_ECH_MIN = 8  # shorter blank runs are cheaper to write as spaces than to erase and skip
_GAP_MAX = 4  # rewriting up to this many unchanged cells beats a cursor motion
_SCROLL_REGION_COST = 16  # DECSTBM set and reset, plus the motion they force
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def sgr(rendition: Rendition) -> str:
    """The absolute SGR sequence for a rendition: `CSI 0;... m`, so no earlier state leaks."""
    return sgr_absolute(rendition)


def _erasable(rendition: Rendition) -> bool:
    """Whether a blank cell of this rendition is exactly what an erase produces (BCE: the
    background colour only, as xterm and tmux do, and as our server emulator records)."""
    return rendition.fg == DEFAULT_COLOR and rendition.attrs == 0


def _sanitize(text: str) -> str:
    """Strip C0/C1 controls so nothing the server sends can smuggle an escape sequence."""
    return _CONTROL.sub("", text)


def cursor_position(row: int, col: int) -> str:
    """CUP in its shortest form (0-based arguments)."""
    if col == 0:
        return CSI + "H" if row == 0 else f"{CSI}{row + 1}H"
    return f"{CSI}{row + 1};{col + 1}H"


def _modes_output(old: Modes | None, new: Modes) -> str:
    """Sequences that take the terminal from modes `old` (None: unknown) to `new`.
    Cursor visibility is not handled here: drawing manages it."""
    out: list[str] = []
    for flag in _FORWARDED_FLAGS:
        on = getattr(new, flag.name)
        if old is None or getattr(old, flag.name) != on:
            out.append(_flag_sequence(flag, on))
    for choice in CHOICE_MODES:
        old_value = None if old is None else getattr(old, choice.name)
        new_value = getattr(new, choice.name)
        if old_value == new_value:
            continue
        # Unknown state: switch every alternative off; known: only the one that was on.
        stale = choice.numbers if old_value is None else (old_value,)
        out += (f"{CSI}?{m}l" for m in stale if m and m != new_value)
        if new_value:
            out.append(f"{CSI}?{new_value}h")
    return "".join(out)


def _row_weight(row: Row) -> int:
    """Rough bytes it takes to paint `row` on a cleared line."""
    return len(row.text.rstrip()) + 4


def find_scroll(old: list[Row], new: list[Row], top: int, bottom: int) -> int:
    """How many rows to scroll region [top, bottom] up so the most costly rows need no redraw.

    Candidates come from row identity: rows are immutable and shared, so a row that scrolled
    on the server is the very same object here. Returns 0 when no scroll pays for itself.
    """
    if bottom - top < 1:
        return 0
    where: dict[int, list[int]] = {}
    for j in range(top + 1, bottom + 1):
        where.setdefault(id(old[j]), []).append(j)
    savings: dict[int, int] = {}
    weights: dict[int, int] = {}
    for i in range(top, bottom):
        row = new[i]
        if row is old[i]:
            continue  # already on screen: scrolling saves nothing here
        for j in where.get(id(row), ()):
            if j > i:
                weight = weights.get(i)
                if weight is None:
                    weight = weights[i] = _row_weight(row)
                savings[j - i] = savings.get(j - i, 0) + weight
    if not savings:
        return 0
    shift = max(savings, key=lambda n: (savings[n], -n))
    full = top == 0 and bottom == len(new) - 1
    overhead = shift + 8 + (0 if full else _SCROLL_REGION_COST)
    return shift if savings[shift] > overhead else 0


def _scrolls_in_place(old: list[Row], new: list[Row], start: int, shift: int) -> bool:
    """Whether scrolling rows [start, end of screen) up by `shift` too leaves them as `new`
    wants them (typically blank rows under the cursor's line)."""
    height = len(new)
    blank = blank_row(new[0].width)
    for i in range(start, height):
        moved = old[i + shift] if i + shift < height else blank
        if new[i] is not moved and new[i] != moved:
            return False
    return True


class Display:
    """What the real terminal shows, and the bytes that change it."""

    def __init__(
        self,
        *,
        alternate_screen: bool = True,
        title_prefix: str = "[mosh] ",
        scrollback: bool = False,
    ) -> None:
        """`scrollback`: the session sends its scrollback (see the module); the alternate
        screen is then never used, whatever `alternate_screen` says."""
        self._scrollback = scrollback
        self._alternate = alternate_screen and not scrollback
        # Scrollback sessions: the real alternate screen shows while the application's does
        # (`show_screen`), and what we drew on the main screen is kept for when it comes back.
        self._on_alternate = False
        self._main_screen: tuple[list[Row], int, int] | None = None
        self._prefix = title_prefix
        self._title_sent: str | None = ""  # "" = never set by us; None = unknown
        self._icon_sent: str | None = ""
        self._bell_count: int | None = None  # None: the next frame sets the baseline
        self._clipboard_serial = 0
        self._forget()
        self._modes: Modes | None = Modes()
        self._cursor_shown: bool | None = True

    # --- state -----------------------------------------------------------------------------
    def _forget(self) -> None:
        """Forget the screen contents, pen, cursor and modes: the next draw repaints."""
        self._rows: list[Row] | None = None
        self._width = 0
        self._height = 0
        self._pen: Rendition | None = None
        self._cy = -1  # -1: position unknown (only an absolute motion is safe)
        self._cx = -1
        self._cursor_shown = None
        self._modes = None
        self._jumps = 0  # cursor motions in the current draw

    # --- the public API --------------------------------------------------------------------
    def open(self) -> bytes:
        """Take over the terminal: alternate screen, autowrap off, cleared and homed."""
        self._forget()
        self._modes = Modes()  # a terminal handed to us is in its default modes
        self._cursor_shown = True
        self._title_sent = self._icon_sent = ""
        out = "\x1b[?1049h" if self._alternate else ""
        out += _PUSH_TITLE + _AUTOWRAP_OFF + _CLEAR
        self._pen = DEFAULT_RENDITION
        self._cy = self._cx = 0
        return out.encode()

    def show_screen(self, alternate: bool) -> bytes:
        """Scrollback sessions: switch the real terminal to its alternate screen while the
        application shows its own (so that its scrolling, and the mouse wheel, stay off the
        history, as when the application runs locally), and back. The main screen's contents
        come back with it (?1049 saves and restores them), so its model is kept meanwhile."""
        if not self._scrollback or alternate == self._on_alternate:
            return b""
        self._on_alternate = alternate
        if alternate:
            if self._rows is not None:
                self._main_screen = (self._rows, self._width, self._height)
            self._rows = None  # the alternate screen starts cleared: repaint on it
            return b"\x1b[?1049h"
        saved, self._main_screen = self._main_screen, None
        self._rows = None
        if saved is not None:
            self._rows, self._width, self._height = saved
        self._pen = None  # ?1049l restores the cursor and pen saved on entering
        self._cy = self._cx = -1
        return b"\x1b[?1049l"

    def invalidate(self) -> None:
        """The terminal may show anything (Ctrl-L, a local resize): repaint everything next."""
        self._forget()
        self._title_sent = self._icon_sent = None

    def close(self) -> bytes:
        """Give the terminal back as we found it."""
        out = [_MODES_OFF, "\x1b[0m", _SHOW_CURSOR, _AUTOWRAP_ON, _POP_TITLE]
        if self._on_alternate:
            out.append("\x1b[?1049l")  # back to the main screen, as the application left it
            self._on_alternate, self._rows, self._main_screen = False, None, None
        if self._alternate:
            out.append("\x1b[?1049l")
        elif self._rows is not None:
            # Stay on the main screen: park the cursor under what we drew so the shell's
            # prompt starts on a fresh line.
            last = max(
                (i for i, row in enumerate(self._rows) if row != blank_row(self._width)),
                default=-1,
            )
            if last >= 0:
                out += [cursor_position(last, 0), "\r\n"]
        self._forget()
        self._modes = Modes()
        self._cursor_shown = True
        self._title_sent = self._icon_sent = ""  # the title stack gave the user's back
        return "".join(out).encode("utf-8", "replace")

    def draw(self, frame: Framebuffer) -> bytes:
        """Bytes that turn the terminal from the last drawn frame into `frame`."""
        out: list[str] = []
        width, height = frame.width, frame.height
        rows = frame.rows
        self._jumps = 0
        if self._rows is None or (width, height) != (self._width, self._height):
            # Full repaint: clear, then paint as a diff against a blank screen.
            self._clear(out, width, height)
            base = [blank_row(width)] * height
        else:
            base = self._rows
        changed = [i for i in range(height) if rows[i] is not base[i] and rows[i] != base[i]]
        if changed:
            top, bottom = changed[0], changed[-1]
            scrolled = self._scroll(out, base, rows, top, bottom)
            if scrolled is not base:  # rows from `top` down moved: compare them all
                base, changed = scrolled, list(range(top, height))
            for y in changed:
                old, new = base[y], rows[y]
                if new is not old and new != old:
                    self._update_row(out, y, old, new)
        self._rows = list(rows)
        # Hide the cursor only if it had to jump around: typing at the cursor needs no hiding.
        hide = self._jumps > 0

        if frame.modes is not self._modes and frame.modes != self._modes:
            out.append(_modes_output(self._modes, frame.modes))
            self._modes = frame.modes
        self._titles(out, frame)
        self._bell_and_clipboard(out, frame)

        if hide and self._cursor_shown is not False:
            out.insert(0, _HIDE_CURSOR)
            self._cursor_shown = False
        self._move(out, frame.cursor_row, min(frame.cursor_col, width - 1))
        visible = frame.modes.cursor_visible
        if self._cursor_shown is not visible:
            out.append(_SHOW_CURSOR if visible else _HIDE_CURSOR)
            self._cursor_shown = visible
        return "".join(out).encode("utf-8", "replace")

    def _clear(self, out: list[str], width: int, height: int) -> None:
        """Blank the screen and home the cursor. With scrollback, row by row: a terminal may
        keep a screen cleared by ED 2 in its history, and what we drew is not history."""
        out.append(_AUTOWRAP_OFF)
        if self._scrollback:
            out.append("\x1b[0m")
            out += (f"{cursor_position(y, 0)}{CSI}2K" for y in range(height))
            out.append(CSI + "H")
        else:
            out.append(_CLEAR)
        self._pen = DEFAULT_RENDITION
        self._cy = self._cx = 0
        self._jumps = 1
        self._width, self._height = width, height
        self._rows = [blank_row(width)] * height

    # --- scrollback --------------------------------------------------------------------------
    def write_history(self, lines: list[Row], width: int, height: int) -> bytes:
        """Bytes that scroll `lines`, oldest first, into the real terminal's history (see the
        module), for a `width` x `height` terminal; the next `draw` repaints the screen. Lines
        wider than the terminal are cut, as the screen's rows are.

        The first `height` lines are put on the rows from the top (usually they are there
        already: the screen scrolled on the server, so nothing is written), then each line
        feed at the bottom row pushes the top row into the history, and the row it brings in
        at the bottom takes the next line still to come."""
        if not lines:
            return b""
        out: list[str] = []
        if self._rows is None or (width, height) != (self._width, self._height):
            self._clear(out, width, height)
        rows = self._rows
        assert rows is not None
        blank = blank_row(width)
        count = len(lines)
        for y in range(min(count, height)):
            line = _fit(lines[y], width)
            old = rows[y]
            if old is blank:
                self._move(out, y, 0)
                self._paint(out, lines[y], width)
            elif old is not line and old != line:
                self._update_row(out, y, old, line)
        self._erase_pen(out, DEFAULT_RENDITION)  # rows scrolled in: default blanks
        self._move(out, height - 1, 0)
        for following in range(height, count + height):
            out.append("\n")
            if following < count:  # the blank bottom row takes a line still to come
                self._paint(out, lines[following], width)
                self._erase_pen(out, DEFAULT_RENDITION)
                out.append("\r")
        self._cy, self._cx = height - 1, 0
        self._rows = rows[count:] + [blank] * count if count < height else [blank] * height
        return "".join(out).encode("utf-8", "replace")

    def _paint(self, out: list[str], row: Row, width: int) -> None:
        """Write `row` (cut to `width`) from the cursor, at column 0 of a blank row, run by
        run; a blank tail is left to the row's blanks (scrollback lines come without it)."""
        if row.width > width:
            row = _fit(row, width)
        cells, rends = row.cells, row.renditions
        end = len(cells)
        while end and cells[end - 1] == " " and _erasable(rends[end - 1]):
            end -= 1
        start = 0
        while start < end:
            rendition = rends[start]
            stop = start + 1
            while stop < end and rends[stop] is rendition:
                stop += 1
            if rendition is not self._pen and rendition != self._pen:
                out.append(sgr(rendition))
                self._pen = rendition
            out.append(_sanitize("".join(cells[start:stop])))
            start = stop
        self._cx = -1  # sanitized cells may not have moved the cursor as counted: reposition

    # --- scrolling -------------------------------------------------------------------------
    def _scroll(
        self, out: list[str], base: list[Row], rows: list[Row], top: int, bottom: int
    ) -> list[Row]:
        """Scroll the changed span up when that saves redrawing; returns the new base rows."""
        shift = find_scroll(base, rows, top, bottom)
        if not shift:
            return base
        if _scrolls_in_place(base, rows, bottom + 1, shift):
            bottom = self._height - 1  # a full-screen scroll needs no scroll region
        # Scrolled-in lines take the current background (BCE): make it the default one.
        self._erase_pen(out, DEFAULT_RENDITION)
        if self._scrollback:
            self._delete_lines(out, top, bottom, shift)
        else:
            self._feed_lines(out, top, bottom, shift)
        blank = blank_row(self._width)
        return base[:top] + base[top + shift : bottom + 1] + [blank] * shift + base[bottom + 1 :]

    def _delete_lines(self, out: list[str], top: int, bottom: int, shift: int) -> None:
        """Scroll rows [top, bottom] up by `shift` with DL at `top`, which no terminal records
        in its history (the scrollback's lines get there by `write_history` only)."""
        region = bottom != self._height - 1
        if region:
            out.append(f"{CSI}{top + 1};{bottom + 1}r")  # DECSTBM; it homes the cursor
            self._cy = self._cx = 0
        self._move(out, top, 0)
        out.append(CSI + "M" if shift == 1 else f"{CSI}{shift}M")
        if region:
            out.append(CSI + "r")
            self._cy = self._cx = 0

    def _feed_lines(self, out: list[str], top: int, bottom: int, shift: int) -> None:
        full = top == 0 and bottom == self._height - 1
        if not full:
            out.append(f"{CSI}{top + 1};{bottom + 1}r")  # DECSTBM; it homes the cursor
            self._cy = self._cx = 0
        # Line feeds at the bottom of the region: understood by every terminal, and harmless
        # even if the tty still turns LF into CR LF (we are in column 0).
        self._move(out, bottom, 0)
        out.append("\n" * shift)
        if not full:
            out.append(CSI + "r")
            self._cy = self._cx = 0

    # --- one row ---------------------------------------------------------------------------
    def _update_row(self, out: list[str], y: int, old: Row, new: Row) -> None:
        cells, rends = new.cells, new.renditions
        old_cells, old_rends = old.cells, old.renditions
        width = len(cells)

        # A tail of blanks an erase can produce: one EL instead of writing them.
        end = width
        last = rends[-1]
        if cells[-1] == " " and _erasable(last):
            end -= 1
            while end and cells[end - 1] == " " and rends[end - 1] == last:
                end -= 1
        tail = end
        while tail < width and cells[tail] == old_cells[tail] and rends[tail] == old_rends[tail]:
            tail += 1

        x = 0
        while x < end:
            if cells[x] == old_cells[x] and (rends[x] is old_rends[x] or rends[x] == old_rends[x]):
                x += 1
                continue
            if cells[x] == "" and x and is_wide(cells[x - 1]):
                x -= 1  # only the right half differs: rewrite the whole wide character
            rendition = rends[x]
            if cells[x] == " " and _erasable(rendition):
                run = 1
                while x + run < end and cells[x + run] == " " and rends[x + run] == rendition:
                    run += 1
                if run >= _ECH_MIN:
                    self._move(out, y, x)
                    self._erase_pen(out, rendition)
                    out.append(f"{CSI}{run}X")  # ECH: the cursor stays
                    x += run
                    continue
            self._move(out, y, x, new)
            x = self._write_cell(out, new, x)

        if tail < width:
            self._move(out, y, tail)
            self._erase_pen(out, last)
            out.append(CSI + "K")

    def _write_cell(self, out: list[str], row: Row, x: int) -> int:
        """Write the cell at column x (the cursor is there); returns the next column."""
        cells = row.cells
        cell = cells[x]
        rendition = row.renditions[x]
        if rendition is not self._pen and rendition != self._pen:
            out.append(sgr(rendition))
            self._pen = rendition
        width = len(cells)
        step = 1
        if len(cell) == 1 and " " <= cell <= "~":
            text = cell
        else:
            text = _sanitize(cell)
            base_width = char_width(text[0]) if text else 0
            if base_width == 2 and x + 1 < width and cells[x + 1] == "":
                step = 2
            elif base_width != 1:
                # An orphan right half, a zero-width base or a wide character with no room:
                # not valid in a frame; a blank keeps the columns where they belong.
                text = " "
        out.append(text)
        self._cx += step
        if self._cx >= width:
            self._cx = -1  # past the last column terminals differ: reposition absolutely
        return x + step

    # --- the pen and the cursor ------------------------------------------------------------
    def _erase_pen(self, out: list[str], rendition: Rendition) -> None:
        """Make erased cells come out as `rendition` (which must be erasable)."""
        pen = self._pen
        if pen is None or pen.bg != rendition.bg or pen.attrs:
            out.append(sgr(rendition))
            self._pen = rendition

    def _move(self, out: list[str], y: int, x: int, row: Row | None = None) -> None:
        """The cheapest motion to (y, x). With `row`, unchanged cells of that row between
        the cursor and x may be rewritten instead of jumped over."""
        cy, cx = self._cy, self._cx
        if cy == y and cx == x:
            return
        best = cursor_position(y, x)
        if cy >= 0 and cx >= 0:
            for candidate in self._relative_moves(y, x, row):
                if len(candidate) < len(best):
                    best = candidate
        out.append(best)
        self._cy, self._cx = y, x
        self._jumps += 1

    def _relative_moves(self, y: int, x: int, row: Row | None) -> list[str]:
        cy, cx = self._cy, self._cx
        moves: list[str] = []
        if cy == y:
            if x == 0:
                moves.append("\r")
            elif x > cx:
                n = x - cx
                moves.append(CSI + "C" if n == 1 else f"{CSI}{n}C")
                if row is not None and n <= _GAP_MAX:
                    gap = self._gap_text(row, cx, x)
                    if gap is not None:
                        moves.append(gap)
            else:
                n = cx - x
                moves.append("\b" * n if n <= 3 else f"{CSI}{n}D")
            moves.append(f"{CSI}{x + 1}G")
        elif x == 0 and y == cy + 1:
            moves.append("\r\n")
        elif x == cx:
            n = abs(y - cy)
            moves.append(f"{CSI}{'' if n == 1 else n}{'A' if y < cy else 'B'}")
        return moves

    def _gap_text(self, row: Row, start: int, end: int) -> str | None:
        """The unchanged cells [start, end) as text, if writing them is a plain rewrite: every
        cell narrow and in the current pen (no SGR needed, no wide halves to split)."""
        pen = self._pen
        cells = row.cells[start:end]
        for cell, rendition in zip(cells, row.renditions[start:end], strict=True):
            if rendition is not pen and rendition != pen:
                return None
            if not (len(cell) == 1 and " " <= cell <= "~"):
                return None
        return "".join(cells)

    # --- titles, bell, clipboard -----------------------------------------------------------
    def _titles(self, out: list[str], frame: Framebuffer) -> None:
        title = _sanitize(self._prefix + frame.title)
        icon = _sanitize(self._prefix + frame.icon_name)
        send_title = _needs_sending(title, self._title_sent)
        send_icon = _needs_sending(icon, self._icon_sent)
        if send_title and send_icon and title == icon:
            out.append(f"\x1b]0;{title}\x07")
        else:
            if send_icon:
                out.append(f"\x1b]1;{icon}\x07")
            if send_title:
                out.append(f"\x1b]2;{title}\x07")
        self._title_sent, self._icon_sent = title, icon

    def _bell_and_clipboard(self, out: list[str], frame: Framebuffer) -> None:
        clipboard = frame.clipboard
        if clipboard is not None and clipboard.serial != self._clipboard_serial:
            self._clipboard_serial = clipboard.serial
            selection = _sanitize(clipboard.selection)
            out.append(f"\x1b]52;{selection};{_sanitize(clipboard.data)}\x07")
        if self._bell_count is not None and frame.bell_count > self._bell_count:
            out.append("\x07")  # however many rang since the last frame: one is enough
        self._bell_count = frame.bell_count


def _fit(row: Row, width: int) -> Row:
    """A scrollback line cut or padded (default blanks) to `width` columns."""
    if row.width == width:
        return row
    if row.width < width:
        pad = width - row.width
        return Row(row.cells + (" ",) * pad, row.renditions + (DEFAULT_RENDITION,) * pad)
    cells = list(row.cells[:width])
    if cells and is_wide(cells[-1]):
        cells[-1] = " "  # its right half fell off the edge
    return Row(tuple(cells), row.renditions[:width])


def _needs_sending(wanted: str, sent: str | None) -> bool:
    # Unknown (after invalidate): resend, unless that would only blank the user's title.
    return bool(wanted) if sent is None else wanted != sent
