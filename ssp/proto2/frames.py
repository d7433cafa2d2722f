"""Protocol-2 screen frames: the escape sequences that take a stock mosh client's emulator from
the screen it acknowledged to the current one.

Upstream's server sends its client the screen as a string of terminal output (HostBytes) that
the client feeds to its own emulator; the client then draws its real terminal from that
emulator. So a frame is written for one known reader, upstream's client emulator, not for an
arbitrary terminal: it may rely on what that emulator does, and must avoid anything it would
answer (it asserts that a frame makes no reply to the host).

`new_frame(old, new)` is sans-IO and stateless. It relies on an invariant every frame it makes
keeps, so that the client's state between frames is a function of the `Framebuffer` alone:
after a frame, the client's pen is the default rendition, its scrolling region is the whole
screen, no deferred wrap is pending and its cursor is at `new`'s cursor position. (Origin mode,
insert mode and autowrap are never touched, so they stay at their power-on values.)

What upstream does and this module matches (src/terminal/terminaldisplay.cc, `new_frame` and
`put_row`): a BEL when the bell count grew; OSC 0 (or OSC 1 / OSC 2) for a changed title; OSC
52;c for a changed clipboard; ?5 for reverse video; on a size change (the client has resized its
own framebuffer on the Resize instruction) upstream's prelude (ESC[r ESC[0m ESC[H ESC[2J) and a
repaint; a scroll found by matching the new first changed row with a lower old row, sent as line
feeds when the cursor is on the bottom row, else inside a scrolling region (upstream moves to
its bottom and sends line feeds; SU here, which needs no move); each changed row written from
its first differing cell, with its blank tail erased by EL and long blank runs by ECH; the
cursor moved last; cursor visibility, bracketed paste, mouse reporting, focus events and mouse
encoding as DEC private modes. Application cursor keys and keypad are not sent:
upstream's client keeps its real terminal in application cursor mode and the server translates
the keys itself.

Where it differs, it is cheaper and leaves the client in the same state: no ?25l/?25h around
the drawing (the client's emulator is not a screen anyone watches being drawn); only the OSC 1
or OSC 2 that changed; one ?N h to switch mouse modes (upstream's emulator lets it replace the
old one); downward scrolls (SD) and scrolls below a changed top line are found too; trailing
blank rows are cleared with one ED; a row on a coloured background is erased in that colour
first; short gaps are rewritten instead of jumped over; SGR changes are incremental when that
is shorter.

Longer than most modules on purpose: it has one job (a frame), and every part of it (rows,
scrolls, scalars) shares the writer's model of the client's cursor and pen.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ssp.screen import (
    DEFAULT_COLOR,
    DEFAULT_RENDITION,
    Clipboard,
    Framebuffer,
    Modes,
    Rendition,
    Row,
    blank_row,
    is_wide,
)
from ssp.sgr import sgr_change
from ssp.width import char_width

__all__ = ["new_frame"]

# Upstream's own prelude for a client whose screen is unknown or was just resized: reset the
# scrolling region and the pen, home, clear. Everything after it is drawn on a blank screen.
_RESET_AND_CLEAR = "\x1b[r\x1b[0m\x1b[H\x1b[2J"
# C0, DEL and C1: in a cell or a title they would be executed, not shown (an ESC or BEL would
# even end the OSC early).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_NO_BREAK_SPACE = "\u00a0"


_MAX_GAP_REWRITE = 6  # unchanged cells worth rewriting instead of moving over them
_MIN_ECH = 6  # blank cells worth an ECH (plus a move after it) instead of spaces
_SCROLL_CANDIDATES = 2  # shifts tried per anchor row and direction


def new_frame(old: Framebuffer | None, new: Framebuffer) -> bytes:
    """The bytes that take upstream's client emulator from `old` to `new`.

    `old` is the screen the client acknowledged; None means a fresh client (blank screen,
    power-on modes, empty title). If `old` is None or of another size, the frame clears the
    screen and repaints it (for a size change the client has already resized its framebuffer
    on the Resize instruction sent before the frame). Equal screens give b"" unless only
    fields no frame carries differ (echo_ack, farewell).
    """
    return _Frame(old, new).render().encode("utf-8", "replace")


# --- renditions --------------------------------------------------------------------------------
def _erasable(rendition: Rendition) -> bool:
    """Whether erasing (EL, ED, ECH) can make a blank of this rendition: both emulators fill
    erased cells with the pen's background colour only (BCE), never its foreground or
    attributes."""
    return rendition.fg == DEFAULT_COLOR and rendition.attrs == 0


# --- cells ---------------------------------------------------------------------------------------
def _cell_text(text: str, columns: int) -> str:
    """What to print for a cell `columns` wide so the client's cursor advances exactly that."""
    if text.isascii():
        if len(text) == 1 and " " <= text < "\x7f":
            return text
        if not text:
            return " " * columns  # a right half with no left half: nothing to draw
    text = _CONTROLS.sub("\ufffd", text)
    width = char_width(text[0])
    if width == 0:
        # A cell that starts with a combining mark: upstream shows it on a no-break space
        # (its "fallback" cell); printed alone, the mark would join the previous cell.
        return _NO_BREAK_SPACE + text
    if width > columns:
        return " " * columns  # a wide character with no room: it would wrap
    if width < columns:
        return text + " " * (columns - width)
    return text


def _units(row: Row) -> list[tuple[int, int]]:
    """(column, width) of each character cell: a wide character and its right half are one."""
    cells = row.cells
    width = len(cells)
    units: list[tuple[int, int]] = []
    col = 0
    while col < width:
        if col + 1 < width and is_wide(cells[col]):
            units.append((col, 2))
            col += 2
        else:
            units.append((col, 1))
            col += 1
    return units


def _blank_tail(row: Row) -> int:
    """Where the row's trailing run of erasable blanks (one rendition) starts; width if none."""
    cells, renditions = row.cells, row.renditions
    col = len(cells)
    last = renditions[-1]
    if cells[-1] != " " or not _erasable(last):
        return col
    while col > 0 and cells[col - 1] == " " and renditions[col - 1] == last:
        col -= 1
    return col


def _same(a: Row, b: Row) -> bool:
    return a is b or a == b


def _estimate(new: Row, base: Row) -> int:
    """Roughly what repainting `base` as `new` costs: for choosing between a scroll and none."""
    if _same(new, base):
        return 0
    tail = _blank_tail(new)
    cost = 6  # a move
    cost += sum(1 for a, b in zip(new.cells[:tail], base.cells[:tail], strict=True) if a != b)
    cost += sum(
        3 for a, b in zip(new.renditions[:tail], base.renditions[:tail], strict=True) if a != b
    )
    if tail < len(new.cells) and (
        new.cells[tail:] != base.cells[tail:] or new.renditions[tail:] != base.renditions[tail:]
    ):
        cost += 3  # EL
    return cost


# --- the output and the client's cursor and pen as it will have them ---------------------------
class _Writer:
    """Output so far, and the client's cursor and pen after it.

    `col == width` means the deferred wrap is pending (a character went into the last
    column): from there only moves whose effect does not depend on it are used.
    """

    __slots__ = ("col", "out", "pen", "row", "width")

    def __init__(self, width: int) -> None:
        self.width = width
        self.out: list[str] = []
        self.row = 0
        self.col = 0
        self.pen: Rendition = DEFAULT_RENDITION

    def emit(self, text: str) -> None:
        self.out.append(text)

    def trial(self, action: Callable[[], None]) -> _State:
        """Run `action` from the current state; return its output and end state, undone here."""
        saved = (self.out, self.row, self.col, self.pen)
        self.out = []
        try:
            action()
            return self.out, self.row, self.col, self.pen
        finally:
            self.out, self.row, self.col, self.pen = saved

    def commit(self, result: _State) -> None:
        pieces, self.row, self.col, self.pen = result
        self.out += pieces

    def set_pen(self, rendition: Rendition) -> None:
        if rendition != self.pen:
            self.out.append(sgr_change(self.pen, rendition))
            self.pen = rendition

    def put(self, text: str, columns: int, rendition: Rendition) -> None:
        """Print one cell at the cursor (never with the deferred wrap pending: it would wrap)."""
        self.set_pen(rendition)
        self.out.append(text)
        self.col += columns

    def move(self, row: int, col: int) -> None:
        if self.row == row and self.col == col:
            return
        self.out.append(self.move_sequence(row, col))
        self.row, self.col = row, col

    def move_sequence(self, row: int, col: int) -> str:
        if self.col >= self.width:
            # Deferred wrap pending. A cursor motion clears it and starts from the last column,
            # where the cursor really is (upstream's emulator and xterm alike); a line feed
            # would keep it pending in some emulators, so rows change after a CR.
            if row == self.row:
                last = self.width - 1
                relative = "\x1b[C" if col == last else _horizontal(last, col)
            else:
                relative = "\r" + _vertical(self.row, row) + _horizontal(0, col)
        elif row == self.row:
            relative = _horizontal(self.col, col)
        else:
            relative = _vertical(self.row, row) + _horizontal(self.col, col)
        absolute = _cup(row, col)
        return relative if len(relative) < len(absolute) else absolute


_State = tuple[list[str], int, int, Rendition]  # a trial's output, cursor and pen


def _cup(row: int, col: int) -> str:
    if col == 0:
        return "\x1b[H" if row == 0 else f"\x1b[{row + 1}H"
    return f"\x1b[{row + 1};{col + 1}H"


def _cha(col: int) -> str:
    return "\x1b[G" if col == 0 else f"\x1b[{col + 1}G"


def _count(n: int) -> str:
    return "" if n == 1 else str(n)


def _horizontal(here: int, col: int) -> str:
    if col == here:
        return ""
    options = [_cha(col)]
    if col == 0:
        options.append("\r")
    if col < here:
        if here - col <= 4:
            options.append("\b" * (here - col))
        options.append(f"\x1b[{_count(here - col)}D")
    else:
        options.append(f"\x1b[{_count(col - here)}C")
    return min(options, key=len)


def _vertical(here: int, row: int) -> str:
    """Keeps the column. Line feeds never scroll here: the region is the whole screen and the
    target row is on it."""
    options = [f"\x1b[{row + 1}d"]  # VPA
    if row > here:
        if row - here <= 4:
            options.append("\n" * (row - here))
        options.append(f"\x1b[{_count(row - here)}B")
    else:
        options.append(f"\x1b[{_count(here - row)}A")
    return min(options, key=len)


# --- rows --------------------------------------------------------------------------------------
def _paint_row(writer: _Writer, y: int, new: Row, base: Row, erase_below: bool = False) -> None:
    """Make the client's row `y` show `new` where it shows `base`: only the changed cells,
    choosing between erasing the blank tail with EL and writing it out. With `erase_below`
    the tail is erased with ED instead, which clears the rows below too (the caller knows they
    are to be blank in the tail's rendition)."""
    if not erase_below and _same(new, base):
        return
    units = _units(new)
    dirty = _dirty_units(new, base, units)
    tail = _blank_tail(new)
    first_in_tail = next((k for k, (col, _) in enumerate(units) if dirty[k] and col >= tail), None)
    if erase_below and first_in_tail is None:
        first_in_tail = next(k for k, (col, _) in enumerate(units) if col >= tail)
    if first_in_tail is None:
        _paint_units(writer, y, new, units, dirty, len(units))
        return
    erase_at = first_in_tail

    def with_erase() -> None:
        _paint_units(writer, y, new, units, dirty, erase_at)
        writer.move(y, units[erase_at][0])
        writer.set_pen(new.renditions[-1])
        writer.emit("\x1b[J" if erase_below else "\x1b[K")

    def written_out() -> None:
        _paint_units(writer, y, new, units, dirty, len(units))

    erased = writer.trial(with_erase)
    if erase_below:
        writer.commit(erased)
        return
    fill = new.renditions[-1]
    start = units[dirty.index(True)][0]
    width = len(new.cells)

    def erased_first() -> None:
        # EL from the first change, then only what is not blank in the tail's colour: a row
        # on a coloured background (a status bar, a highlighted line) with a few words.
        writer.move(y, start)
        writer.set_pen(fill)
        writer.emit("\x1b[K")
        cleared = Row(
            base.cells[:start] + (" ",) * (width - start),
            base.renditions[:start] + (fill,) * (width - start),
        )
        _paint_units(writer, y, new, units, _dirty_units(new, cleared, units), len(units))

    options = [erased, writer.trial(written_out)]
    if start < tail:
        options.append(writer.trial(erased_first))
    writer.commit(min(options, key=lambda option: _cost(option[0])))


def _cost(pieces: list[str]) -> int:
    return sum(len(piece) for piece in pieces)


def _dirty_units(new: Row, base: Row, units: list[tuple[int, int]]) -> list[bool]:
    """Which units of `new` differ from what the client shows.

    Comparing cells suffices for wide characters too: writing over half of a wide character
    the client shows blanks its other half, but that half then differs from `new` as well (a
    cell next to a wide character's half is never the same in a row without it).
    """
    new_cells, new_rends = new.cells, new.renditions
    old_cells, old_rends = base.cells, base.renditions
    dirty = [False] * len(units)
    for k, (col, columns) in enumerate(units):
        for c in range(col, col + columns):
            if new_cells[c] != old_cells[c] or new_rends[c] != old_rends[c]:
                dirty[k] = True
                break
    return dirty


def _paint_units(
    writer: _Writer,
    y: int,
    row: Row,
    units: list[tuple[int, int]],
    dirty: list[bool],
    stop: int,
) -> None:
    """Write the dirty units before index `stop`, left to right."""
    cells, renditions = row.cells, row.renditions
    k = 0
    while k < stop:
        if not dirty[k]:
            k += 1
            continue
        col, columns = units[k]
        rendition = renditions[col]
        if cells[col] == " " and _erasable(rendition):
            # A run of blanks that erasing can make: ECH when long enough (then a move).
            last = k
            j = k
            while j < stop and cells[units[j][0]] == " " and renditions[units[j][0]] == rendition:
                if dirty[j]:
                    last = j
                j += 1
            count = units[last][0] - col + 1
            if count >= _MIN_ECH:
                writer.move(y, col)
                writer.set_pen(rendition)
                writer.emit(f"\x1b[{count}X")
                k = last + 1
                continue
        _approach(writer, y, col, row, units)
        writer.put(_cell_text(cells[col], columns), columns, rendition)
        k += 1


def _approach(
    writer: _Writer,
    y: int,
    col: int,
    row: Row,
    units: list[tuple[int, int]],
) -> None:
    """Get the cursor to (y, col): by a move, or by writing the few unchanged cells between
    the cursor and col again when that is shorter."""
    here = writer.col
    if writer.row != y or here >= col or col - here > _MAX_GAP_REWRITE:
        writer.move(y, col)
        return
    gap = [(c, n) for c, n in units if here <= c < col]
    if not gap or gap[0][0] != here:  # the cursor is inside a wide character: move
        writer.move(y, col)
        return

    def rewrite() -> None:
        for c, n in gap:
            writer.put(_cell_text(row.cells[c], n), n, row.renditions[c])

    rewritten = writer.trial(rewrite)
    if _cost(rewritten[0]) < len(writer.move_sequence(y, col)):
        writer.commit(rewritten)
    else:
        writer.move(y, col)


# --- the frame ---------------------------------------------------------------------------------
class _Frame:
    def __init__(self, old: Framebuffer | None, new: Framebuffer) -> None:
        self.old = old
        self.new = new

    def render(self) -> str:
        old, new = self.old, self.new
        width, height = new.width, new.height
        writer = _Writer(width)
        # A fresh client has power-on modes and no title; a resized one keeps its own.
        modes = old.modes if old is not None else Modes()
        self._scalars(writer, old, modes)
        if old is None or (old.width, old.height) != (width, height):
            writer.emit(_RESET_AND_CLEAR)
            writer.row = writer.col = 0
            writer.pen = DEFAULT_RENDITION
            base = [blank_row(width)] * height
        else:
            writer.row = min(old.cursor_row, height - 1)
            writer.col = min(old.cursor_col, width - 1)
            base = list(old.rows)
            self._scroll(writer, base)
        block = self._blank_block(base)
        blank_from, merge = block if block is not None else (height, False)
        for y in range(blank_from):
            _paint_row(writer, y, new.rows[y], base[y], erase_below=merge and y == blank_from - 1)
        if blank_from < height and not merge:
            writer.move(blank_from, 0)
            writer.set_pen(new.rows[blank_from].renditions[0])
            writer.emit("\x1b[J")
        writer.move(min(new.cursor_row, height - 1), min(new.cursor_col, width - 1))
        writer.set_pen(DEFAULT_RENDITION)  # the invariant: the next frame starts from it
        self._modes(writer, modes, new.modes)
        return "".join(writer.out)

    def _scalars(self, writer: _Writer, old: Framebuffer | None, modes: Modes) -> None:
        new = self.new
        if old is not None and new.bell_count > old.bell_count:
            writer.emit("\x07")  # one BEL however many rang, as upstream
        title = old.title if old is not None else ""
        icon = old.icon_name if old is not None else ""
        if new.title != title or new.icon_name != icon:
            if new.title == new.icon_name and new.title != title and new.icon_name != icon:
                writer.emit(_osc("0", new.title))
            else:
                if new.icon_name != icon:
                    writer.emit(_osc("1", new.icon_name))
                if new.title != title:
                    writer.emit(_osc("2", new.title))
        clipboard = old.clipboard if old is not None else None
        if new.clipboard is not None and new.clipboard != clipboard:
            writer.emit(_osc52(new.clipboard))
        if new.modes.reverse_video != modes.reverse_video:
            writer.emit("\x1b[?5h" if new.modes.reverse_video else "\x1b[?5l")

    def _scroll(self, writer: _Writer, base: list[Row]) -> None:
        """Find the scroll that saves most (new rows that are old rows moved up or down
        within a region), send it and apply it to `base`. Upstream looks only for the new
        first row further down the old screen (a region from the top); this also tries the
        row after the first changed one (a changed header line) and downward scrolls."""
        new_rows = self.new.rows
        height = len(new_rows)
        first = next((y for y in range(height) if not _same(new_rows[y], base[y])), None)
        if first is None:
            return
        candidates: list[tuple[int, int, int]] = []  # (top, bottom, shift: >0 up, <0 down)
        for top in (first, first + 1):
            if top >= height - 1:
                break
            found = 0
            for shift in range(1, height - top):
                if _same(new_rows[top], base[top + shift]):
                    run = 1
                    while top + shift + run < height and _same(
                        new_rows[top + run], base[top + shift + run]
                    ):
                        run += 1
                    candidates.append((top, top + shift + run - 1, shift))
                    found += 1
                    if found == _SCROLL_CANDIDATES:
                        break
            found = 0
            for shift in range(1, height - top):
                if _same(new_rows[top + shift], base[top]):
                    run = 1
                    while top + shift + run < height and _same(
                        new_rows[top + shift + run], base[top + run]
                    ):
                        run += 1
                    candidates.append((top, top + shift + run - 1, -shift))
                    found += 1
                    if found == _SCROLL_CANDIDATES:
                        break
        if not candidates:
            return
        plain: dict[int, int] = {}

        def plain_cost(y: int) -> int:
            if y not in plain:
                plain[y] = _estimate(new_rows[y], base[y])
            return plain[y]

        best: tuple[int, int, int, int] | None = None  # (saving, top, bottom, shift)
        for top, bottom, shift in candidates:
            shifted = _shifted(base, top, bottom, shift, self.new.width)
            cost = len(self._scroll_sequence(writer, top, bottom, shift))
            cost += sum(_estimate(new_rows[y], shifted[y]) for y in range(top, bottom + 1))
            saving = sum(plain_cost(y) for y in range(top, bottom + 1)) - cost
            if saving > 0 and (best is None or saving > best[0]):
                best = (saving, top, bottom, shift)
        if best is None:
            return
        _, top, bottom, shift = best
        writer.set_pen(DEFAULT_RENDITION)  # rows scrolled in take the pen's background
        sequence = self._scroll_sequence(writer, top, bottom, shift)
        writer.emit(sequence)
        if sequence.startswith("\x1b[") and sequence.endswith("r"):
            writer.row = writer.col = 0  # DECSTBM homes the cursor
        base[:] = _shifted(base, top, bottom, shift, self.new.width)

    def _scroll_sequence(self, writer: _Writer, top: int, bottom: int, shift: int) -> str:
        height = self.new.height
        count = abs(shift)
        scroll = f"\x1b[{_count(count)}{'S' if shift > 0 else 'T'}"
        if top == 0 and bottom == height - 1:
            if (
                shift > 0
                and count <= len(scroll)
                and writer.row == height - 1
                and writer.col is not None
                and writer.col < self.new.width
            ):
                return "\n" * count  # at the bottom already: line feeds scroll, as upstream
            return scroll
        return f"\x1b[{top + 1};{bottom + 1}r{scroll}\x1b[r"

    def _blank_block(self, base: list[Row]) -> tuple[int, bool] | None:
        """Whether to clear the bottom of the screen with one ED: the new screen's trailing
        blank rows (one erasable rendition), when two or more of them change or when the row
        above ends in blanks of that rendition, whose EL the ED then replaces. Returns the
        first blank row and whether the ED goes at the end of the row above."""
        rows = self.new.rows
        height, width = len(rows), self.new.width
        top = height
        fill: Rendition | None = None
        while top > 0:
            row = rows[top - 1]
            rendition = row.renditions[0]
            if not _erasable(rendition) or (fill is not None and rendition != fill):
                break
            if not _same(row, blank_row(width, rendition)):
                break
            fill = rendition
            top -= 1
        if fill is None:
            return None
        changed = sum(1 for y in range(top, height) if not _same(rows[y], base[y]))
        above = rows[top - 1] if top > 0 else None
        merge = above is not None and _blank_tail(above) < width and above.renditions[-1] == fill
        if changed >= 2 or (changed and merge):
            return top, merge
        return None

    def _modes(self, writer: _Writer, old: Modes, new: Modes) -> None:
        if new.cursor_visible != old.cursor_visible:
            writer.emit("\x1b[?25h" if new.cursor_visible else "\x1b[?25l")
        if new.bracketed_paste != old.bracketed_paste:
            writer.emit("\x1b[?2004h" if new.bracketed_paste else "\x1b[?2004l")
        # Setting one mouse mode replaces the other in upstream's emulator, and resetting the
        # one in force turns it off: no need for upstream's reset-all-then-set.
        if new.mouse_reporting != old.mouse_reporting:
            writer.emit(_choice(old.mouse_reporting, new.mouse_reporting))
        if new.focus_events != old.focus_events:
            writer.emit("\x1b[?1004h" if new.focus_events else "\x1b[?1004l")
        if new.mouse_encoding != old.mouse_encoding:
            writer.emit(_choice(old.mouse_encoding, new.mouse_encoding))


def _choice(old: int, new: int) -> str:
    return f"\x1b[?{new}h" if new else f"\x1b[?{old}l"


def _osc(command: str, text: str) -> str:
    # BEL-terminated, as upstream: "ST is more correct, but BEL more widely supported".
    return f"\x1b]{command};{_CONTROLS.sub('', text)}\x07"


def _osc52(clipboard: Clipboard) -> str:
    # Upstream's client takes only the "c" selection (OSC 52;c;); a request for another
    # selection is still the user's copy, so it goes to the one the client knows.
    return _osc("52", "c;" + clipboard.data)


def _shifted(rows: list[Row], top: int, bottom: int, shift: int, width: int) -> list[Row]:
    """`rows` with rows top..bottom scrolled by `shift` (up if positive), blanks scrolled in."""
    region = rows[top : bottom + 1]
    count = abs(shift)
    blanks = [blank_row(width)] * count
    region = region[count:] + blanks if shift > 0 else blanks + region[: len(region) - count]
    return rows[:top] + region + rows[bottom + 1 :]
