"""Server → client state: the terminal framebuffer and its compact binary diff.

A `Framebuffer` is what the client must show: rows of cells with their rendition, the cursor,
the modes the client forwards to its real terminal, title, bell count, clipboard, and `echo_ack`
(the newest user-stream state the application has had for at least 50 ms; the client's
prediction engine judges its guesses against it).

Rows are immutable and shared between frames, so copying a frame costs one list copy and
comparing two frames is mostly pointer checks. A diff carries only what changed: scalar fields,
a scroll count when the new screen is the old one shifted up, and the changed rows as runs of
text with their rendition. It is structured data, not escape sequences, so the client needs no
second emulator to apply it.

Longer than most modules: the cell model (colours, renditions, rows and the wide-cell rule)
and the forwarded-modes table are what the framebuffer and its wire codec are made of, and
every module that draws or reads a screen imports them from here, together.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import TYPE_CHECKING

from ssp.codec import DecodeError, Reader, put_str, put_varint
from ssp.width import char_width

if TYPE_CHECKING:
    from ssp.history import HistoryLines

# --- colours: one int each, so renditions stay small and hashable --------------------------
DEFAULT_COLOR = 0
_RGB_FLAG = 1 << 24


def palette_color(index: int) -> int:
    """Colour number `index` (0–255) of the 256-colour palette; 0–15 are the ANSI colours."""
    return index + 1


def rgb_color(red: int, green: int, blue: int) -> int:
    return _RGB_FLAG | (red << 16) | (green << 8) | blue


def color_palette_index(color: int) -> int | None:
    return color - 1 if 1 <= color <= 256 else None


def color_rgb(color: int) -> tuple[int, int, int] | None:
    if not color & _RGB_FLAG:
        return None
    return (color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF


# --- attribute bits --------------------------------------------------------------------------
BOLD = 1 << 0
DIM = 1 << 1
ITALIC = 1 << 2
UNDERLINE = 1 << 3
BLINK = 1 << 4
INVERSE = 1 << 5
INVISIBLE = 1 << 6
STRIKETHROUGH = 1 << 7

# The SGR parameter that sets each attribute: the emulator reads these, the client's display
# writes them.
SGR_ATTRIBUTES: tuple[tuple[int, int], ...] = (
    (BOLD, 1),
    (DIM, 2),
    (ITALIC, 3),
    (UNDERLINE, 4),
    (BLINK, 5),
    (INVERSE, 7),
    (INVISIBLE, 8),
    (STRIKETHROUGH, 9),
)
# The SGR parameter that clears attributes: 22 clears bold and dim both.
SGR_ATTRIBUTES_OFF: tuple[tuple[int, int], ...] = (
    (BOLD | DIM, 22),
    (ITALIC, 23),
    (UNDERLINE, 24),
    (BLINK, 25),
    (INVERSE, 27),
    (INVISIBLE, 28),
    (STRIKETHROUGH, 29),
)


@dataclass(frozen=True, slots=True)
class Rendition:
    fg: int = DEFAULT_COLOR
    bg: int = DEFAULT_COLOR
    attrs: int = 0


DEFAULT_RENDITION = Rendition()


@lru_cache(maxsize=1024)
def intern_rendition(fg: int, bg: int, attrs: int) -> Rendition:
    """One shared object per distinct rendition: rows hold references, not copies."""
    return Rendition(fg, bg, attrs)


class Row:
    """One screen row, immutable.

    `cells[i]` is what column i shows: a base character plus any combining marks, " " for a
    blank, or "" for the right half of a wide character standing in column i-1. The wide-cell
    rule (`is_wide`, `unpair_span`, `repair_wide_pairs` below) is the one both the server's
    emulator and the client's prediction follow.
    """

    __slots__ = ("cells", "renditions")

    cells: tuple[str, ...]
    renditions: tuple[Rendition, ...]

    def __init__(self, cells: tuple[str, ...], renditions: tuple[Rendition, ...]) -> None:
        if len(cells) != len(renditions):
            raise ValueError("a row needs one rendition per cell")
        object.__setattr__(self, "cells", cells)
        object.__setattr__(self, "renditions", renditions)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("rows are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("rows are immutable")

    @property
    def width(self) -> int:
        return len(self.cells)

    @property
    def text(self) -> str:
        """The row as plain text (wide characters once, trailing blanks kept)."""
        return "".join(self.cells)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Row):
            return NotImplemented
        return self.cells == other.cells and self.renditions == other.renditions

    def __hash__(self) -> int:
        return hash((self.cells, self.renditions))

    def __repr__(self) -> str:
        return f"Row({self.text!r})"


# --- the wide-cell rule ----------------------------------------------------------------------
WIDE_RIGHT_HALF = ""  # the cell after a wide character


def is_wide(cell: str) -> bool:
    """Whether `cell` is the left half of a wide character (its right half, "", follows)."""
    return bool(cell) and char_width(cell[0]) == 2


def unpair_span(cells: list[str], start: int, end: int) -> None:
    """Before `cells[start:end]` is overwritten: blank the other half of a wide character the
    span cuts in two, so no half is left alone."""
    if start and cells[start] == WIDE_RIGHT_HALF:
        cells[start - 1] = " "
    if end < len(cells) and cells[end] == WIDE_RIGHT_HALF:
        cells[end] = " "


def repair_wide_pairs(cells: list[str]) -> None:
    """Never leave half a wide character: a lone left or right half becomes a blank."""
    last = len(cells) - 1
    for col, cell in enumerate(cells):
        if cell == WIDE_RIGHT_HALF:
            if col == 0 or not is_wide(cells[col - 1]):
                cells[col] = " "
        elif is_wide(cell) and (col == last or cells[col + 1] != WIDE_RIGHT_HALF):
            cells[col] = " "


@lru_cache(maxsize=256)
def blank_row(width: int, rendition: Rendition = DEFAULT_RENDITION) -> Row:
    return Row((" ",) * width, (rendition,) * width)


# --- forwarded modes: the one table ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FlagMode:
    """An on/off DEC private mode the client forwards: `CSI ? number h` sets `Modes.<name>`,
    `CSI ? number l` resets it."""

    name: str  # the Modes field
    number: int  # the DEC private mode number
    default: bool


@dataclass(frozen=True, slots=True)
class ChoiceMode:
    """A forwarded mode with alternatives (mouse reporting, mouse encoding): setting one of
    `numbers` makes it `Modes.<name>`; resetting the one in force makes it 0 (off, the
    default)."""

    name: str
    numbers: tuple[int, ...]


# Every mode a frame carries, with its DEC private mode number and default. The emulator
# (termemu) sets Modes from them, the diff encodes them and the client's display writes them to
# the real terminal, all from these tables. Their order is the wire order (flag i is bit i of
# one varint, then one varint per choice): append only, never reorder.
FLAG_MODES: tuple[FlagMode, ...] = (
    FlagMode("app_cursor_keys", 1, False),  # DECCKM
    FlagMode("app_keypad", 66, False),  # DECNKM; also ESC = / ESC > (DECKPAM / DECKPNM)
    FlagMode("bracketed_paste", 2004, False),
    FlagMode("focus_events", 1004, False),
    FlagMode("reverse_video", 5, False),  # DECSCNM
    FlagMode("cursor_visible", 25, True),  # DECTCEM
)
CHOICE_MODES: tuple[ChoiceMode, ...] = (
    ChoiceMode("mouse_reporting", (9, 1000, 1002, 1003)),
    ChoiceMode("mouse_encoding", (1005, 1006, 1015)),  # 0 is X10's default encoding
)


# Keyword-only, like Framebuffer: a field added later cannot shift positional arguments.
# A new field goes into FLAG_MODES or CHOICE_MODES too (checked at import, below).
@dataclass(frozen=True, slots=True, kw_only=True)
class Modes:
    """Terminal modes the client forwards to (or uses for) its real terminal."""

    app_cursor_keys: bool = False  # DECCKM ?1
    app_keypad: bool = False  # DECKPAM / DECNKM ?66
    bracketed_paste: bool = False  # ?2004
    focus_events: bool = False  # ?1004
    reverse_video: bool = False  # DECSCNM ?5
    cursor_visible: bool = True  # DECTCEM ?25
    mouse_reporting: int = 0  # 0, 9, 1000, 1002 or 1003
    mouse_encoding: int = 0  # 0 (X10), 1005, 1006 or 1015


def _check_modes_table() -> None:
    declared = [(f.name, f.default) for f in fields(Modes)]
    tabled = [(m.name, m.default) for m in FLAG_MODES] + [(c.name, 0) for c in CHOICE_MODES]
    if declared != tabled:
        raise RuntimeError("Modes and FLAG_MODES/CHOICE_MODES disagree")


_check_modes_table()


@dataclass(frozen=True, slots=True)
class Clipboard:
    """The newest OSC 52 request; `serial` grows with each so the client forwards each once."""

    serial: int
    selection: str
    data: str


# --- diff tags -------------------------------------------------------------------------------
_SIZE = 1
_CURSOR = 2
_MODES = 3
_TITLE = 4
_ICON = 5
_BELL = 6
_CLIPBOARD = 7
_ECHO_ACK = 8
_SCROLL = 9
_ROW = 10
_CLIPBOARD_CLEAR = 11
_FAREWELL = 12
_HISTORY = 13  # scrollback lines: the new end, how many were dropped, the lines
_ALTERNATE_SCREEN = 14  # the application switched screens: 1 alternate, 0 main

_RUN_SIMPLE = 0  # every cell one code point: the text, split per code point
_RUN_COMPLEX = 1  # cells joined by US (0x1F), which never stands in a cell
_RUN_BLANK = 2  # n blank cells
_CELL_SEPARATOR = "\x1f"


# Keyword-only: a field added later cannot shift positional arguments. A new field must also
# go into __eq__, and into diff_from/apply (test_the_diff_carries_every_field fails until then).
@dataclass(slots=True, eq=False, kw_only=True)
class Framebuffer:
    width: int = 80
    height: int = 24
    rows: list[Row] = field(default_factory=list)
    cursor_row: int = 0
    cursor_col: int = 0
    modes: Modes = Modes()
    title: str = ""
    icon_name: str = ""
    bell_count: int = 0
    clipboard: Clipboard | None = None
    echo_ack: int = 0
    farewell: str = ""  # why the server ends the session, sent with its goodbye
    # The application shows its alternate screen (?47/?1047/?1049): the client then shows it
    # on the real terminal's alternate screen too, whose scrolling reaches no history.
    alternate_screen: bool = False
    # Scrollback (ssp.history): the number of the newest line released into this state, and
    # where a diff finds lines by number. On the server `history` is the session's store; on
    # the client, the lines the diff that made this state brought (None: it brought none).
    # `history` is not part of the state's value (==): only `history_end` is.
    history_end: int = 0
    history: HistoryLines | None = None

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError("a screen has at least one row and one column")
        if not self.rows:
            self.rows = [blank_row(self.width)] * self.height
        elif len(self.rows) != self.height or any(r.width != self.width for r in self.rows):
            raise ValueError("rows do not match the screen size")

    # --- the State protocol ----------------------------------------------------------------
    def copy(self) -> Framebuffer:
        return Framebuffer(
            width=self.width,
            height=self.height,
            rows=list(self.rows),
            cursor_row=self.cursor_row,
            cursor_col=self.cursor_col,
            modes=self.modes,
            title=self.title,
            icon_name=self.icon_name,
            bell_count=self.bell_count,
            clipboard=self.clipboard,
            echo_ack=self.echo_ack,
            farewell=self.farewell,
            alternate_screen=self.alternate_screen,
            history_end=self.history_end,
            history=self.history,
        )

    def subtract(self, prefix: Framebuffer) -> None:
        """Screens are not cumulative: nothing to forget."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Framebuffer):
            return NotImplemented
        return (
            self.width == other.width
            and self.height == other.height
            and self.cursor_row == other.cursor_row
            and self.cursor_col == other.cursor_col
            and self.echo_ack == other.echo_ack
            and self.bell_count == other.bell_count
            and self.modes == other.modes
            and self.title == other.title
            and self.icon_name == other.icon_name
            and self.clipboard == other.clipboard
            and self.farewell == other.farewell
            and self.alternate_screen == other.alternate_screen
            and self.history_end == other.history_end
            and self.rows == other.rows
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def text_lines(self) -> list[str]:
        """Each row's text with trailing blanks stripped: handy for tests and logs."""
        return [row.text.rstrip() for row in self.rows]

    def diff_from(self, old: Framebuffer) -> bytes:
        """Bytes that turn `old` into `self` when given to `old.apply`. Empty if equal."""
        out = bytearray()
        base_rows = old.rows
        if (self.width, self.height) != (old.width, old.height):
            out.append(_SIZE)
            put_varint(out, self.width)
            put_varint(out, self.height)
            base_rows = [blank_row(self.width)] * self.height
        else:
            shift = _detect_scroll(old.rows, self.rows)
            if shift:
                out.append(_SCROLL)
                put_varint(out, shift)
                base_rows = old.rows[shift:] + [blank_row(self.width)] * shift
        resized = (self.width, self.height) != (old.width, old.height)
        if resized or (self.cursor_row, self.cursor_col) != (old.cursor_row, old.cursor_col):
            out.append(_CURSOR)
            put_varint(out, self.cursor_row)
            put_varint(out, self.cursor_col)
        if self.modes != old.modes:
            out.append(_MODES)
            flags = 0
            for bit, flag in enumerate(FLAG_MODES):
                if getattr(self.modes, flag.name):
                    flags |= 1 << bit
            put_varint(out, flags)
            for choice in CHOICE_MODES:
                put_varint(out, getattr(self.modes, choice.name))
        if self.title != old.title:
            out.append(_TITLE)
            put_str(out, self.title)
        if self.icon_name != old.icon_name:
            out.append(_ICON)
            put_str(out, self.icon_name)
        if self.bell_count != old.bell_count:
            out.append(_BELL)
            put_varint(out, self.bell_count)
        if self.clipboard != old.clipboard:
            if self.clipboard is None:
                out.append(_CLIPBOARD_CLEAR)
            else:
                out.append(_CLIPBOARD)
                put_varint(out, self.clipboard.serial)
                put_str(out, self.clipboard.selection)
                put_str(out, self.clipboard.data)
        if self.echo_ack != old.echo_ack:
            out.append(_ECHO_ACK)
            put_varint(out, self.echo_ack)
        if self.farewell != old.farewell:
            out.append(_FAREWELL)
            put_str(out, self.farewell)
        if self.alternate_screen != old.alternate_screen:
            out.append(_ALTERNATE_SCREEN)
            put_varint(out, int(self.alternate_screen))
        if self.history_end != old.history_end:
            self._encode_history(out, old.history_end)
        for index, (new_row, base_row) in enumerate(zip(self.rows, base_rows, strict=True)):
            if new_row is not base_row and new_row != base_row:
                out.append(_ROW)
                put_varint(out, index)
                _encode_row(out, new_row)
        return bytes(out)

    def _encode_history(self, out: bytearray, old_end: int) -> None:
        """The scrollback lines after `old_end` through ours: those the history no longer has
        as a count, then the rest, each with its own width."""
        out.append(_HISTORY)
        put_varint(out, self.history_end)
        dropped, count, encoded = 0, 0, b""
        if self.history_end > old_end:
            if self.history is None:
                dropped = self.history_end - old_end
            else:
                _, count, encoded = self.history.encoded(old_end, self.history_end)
                dropped = self.history_end - old_end - count
        put_varint(out, dropped)
        put_varint(out, count)
        out += encoded

    def apply(self, diff: bytes) -> None:
        """Apply a diff made by `diff_from`. Raises `DecodeError` (leaving self unchanged).
        `history` becomes the scrollback lines the diff brought (None if it brought none)."""
        staged = self.copy()
        staged.history = None
        staged._apply_into(Reader(diff))
        for name in Framebuffer.__slots__:
            setattr(self, name, getattr(staged, name))

    def _apply_into(self, reader: Reader) -> None:
        while not reader.at_end():
            tag = reader.byte()
            if tag == _SIZE:
                width, height = reader.varint(), reader.varint()
                if not (1 <= width <= 4096 and 1 <= height <= 4096):
                    raise DecodeError("screen size out of range")
                self.width, self.height = width, height
                self.rows = [blank_row(width)] * height
                self.cursor_row = min(self.cursor_row, height - 1)
                self.cursor_col = min(self.cursor_col, width - 1)
            elif tag == _SCROLL:
                shift = reader.varint()
                if not 0 < shift < self.height:
                    raise DecodeError("scroll out of range")
                self.rows = self.rows[shift:] + [blank_row(self.width)] * shift
            elif tag == _CURSOR:
                row, col = reader.varint(), reader.varint()
                if row >= self.height or col > self.width:
                    raise DecodeError("cursor off screen")
                self.cursor_row, self.cursor_col = row, col
            elif tag == _MODES:
                flags = reader.varint()
                values: dict[str, int] = {
                    flag.name: bool(flags & (1 << bit)) for bit, flag in enumerate(FLAG_MODES)
                }
                for choice in CHOICE_MODES:
                    values[choice.name] = reader.varint()
                self.modes = Modes(**values)  # type: ignore[arg-type]  # names from the table
            elif tag == _TITLE:
                self.title = reader.str_()
            elif tag == _ICON:
                self.icon_name = reader.str_()
            elif tag == _BELL:
                self.bell_count = reader.varint()
            elif tag == _CLIPBOARD:
                self.clipboard = Clipboard(reader.varint(), reader.str_(), reader.str_())
            elif tag == _CLIPBOARD_CLEAR:
                self.clipboard = None
            elif tag == _ECHO_ACK:
                self.echo_ack = reader.varint()
            elif tag == _FAREWELL:
                self.farewell = reader.str_()
            elif tag == _HISTORY:
                self._decode_history(reader)
            elif tag == _ALTERNATE_SCREEN:
                flag = reader.varint()
                if flag > 1:
                    raise DecodeError("alternate screen flag out of range")
                self.alternate_screen = bool(flag)
            elif tag == _ROW:
                index = reader.varint()
                if index >= self.height:
                    raise DecodeError("row off screen")
                self.rows[index] = _decode_row(reader, self.width)
            else:
                raise DecodeError(f"unknown screen diff tag {tag}")

    def _decode_history(self, reader: Reader) -> None:
        from ssp.history import Delivered  # ssp.history imports this module

        end, dropped, count = reader.varint(), reader.varint(), reader.varint()
        if dropped + count > end:
            raise DecodeError("more scrollback lines than numbers")
        lines = []
        for _ in range(count):
            width = reader.varint()
            if width > 4096:
                raise DecodeError("scrollback line too wide")
            lines.append(_decode_row(reader, width))
        self.history_end = end
        self.history = Delivered(end, dropped, lines) if dropped or lines else None


def _detect_scroll(old: list[Row], new: list[Row]) -> int:
    """How many rows `new` is `old` scrolled up by, if that explains more rows than no shift."""
    height = len(new)
    first = new[0]
    best_shift, best_matches = 0, sum(1 for a, b in zip(old, new, strict=True) if a is b or a == b)
    if best_matches == height:
        return 0
    for shift in range(1, height):
        candidate = old[shift]
        if candidate is not first and candidate != first:
            continue
        matches = sum(1 for a, b in zip(old[shift:], new, strict=False) if a is b or a == b)
        if matches > best_matches:
            best_shift, best_matches = shift, matches
    return best_shift


def encode_line(row: Row) -> bytes:
    """A scrollback line as a diff carries it: its width, then its runs (as a row's)."""
    out = bytearray()
    put_varint(out, row.width)
    _encode_row(out, row)
    return bytes(out)


def encode_text_line(text: str) -> bytes:
    """`encode_line` of plain text in the default rendition (`ssp.history.text_row`),
    without building the row."""
    text = text.rstrip(" ")
    out = bytearray()
    put_varint(out, len(text))
    if text:
        out += b"\x01\x00\x00\x00"  # one run, default rendition
        out.append(_RUN_SIMPLE)
        put_varint(out, len(text))
        put_str(out, text)
    else:
        out.append(0)  # no runs
    return bytes(out)


def _encode_row(out: bytearray, row: Row) -> None:
    runs: list[tuple[Rendition, list[str]]] = []
    for cell, rendition in zip(row.cells, row.renditions, strict=True):
        if runs and (runs[-1][0] is rendition or runs[-1][0] == rendition):
            runs[-1][1].append(cell)
        else:
            runs.append((rendition, [cell]))
    # Split each run's trailing blanks off as a blank run (erase runs cost a few bytes).
    pieces: list[tuple[Rendition, int, list[str]]] = []
    for rendition, cells in runs:
        end = len(cells)
        while end and cells[end - 1] == " ":
            end -= 1
        if end:
            text_cells = cells[:end]
            kind = _RUN_SIMPLE if all(len(c) == 1 for c in text_cells) else _RUN_COMPLEX
            pieces.append((rendition, kind, text_cells))
        if end < len(cells):
            pieces.append((rendition, _RUN_BLANK, cells[end:]))
    put_varint(out, len(pieces))
    for rendition, kind, cells in pieces:
        put_varint(out, rendition.fg)
        put_varint(out, rendition.bg)
        put_varint(out, rendition.attrs)
        out.append(kind)
        put_varint(out, len(cells))
        if kind == _RUN_SIMPLE:
            put_str(out, "".join(cells))
        elif kind == _RUN_COMPLEX:
            put_str(out, _CELL_SEPARATOR.join(cells))


def _decode_row(reader: Reader, width: int) -> Row:
    cells: list[str] = []
    renditions: list[Rendition] = []
    for _ in range(reader.varint()):
        rendition = intern_rendition(reader.varint(), reader.varint(), reader.varint())
        kind = reader.byte()
        count = reader.varint()
        if count > width - len(cells):
            raise DecodeError("runs longer than the row")
        if kind == _RUN_BLANK:
            run_cells: list[str] = [" "] * count
        elif kind == _RUN_SIMPLE:
            run_cells = list(reader.str_())
        elif kind == _RUN_COMPLEX:
            run_cells = reader.str_().split(_CELL_SEPARATOR)
        else:
            raise DecodeError("unknown run kind")
        if len(run_cells) != count:
            raise DecodeError("run cell count mismatch")
        cells += run_cells
        renditions += [rendition] * count
    if len(cells) != width:
        raise DecodeError("row width mismatch")
    return Row(tuple(cells), tuple(renditions))
