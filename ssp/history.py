"""A session's scrollback: the lines that scrolled off the top of the main screen, sans-IO.

Lines are numbered from 1 in the order they scrolled off, for the life of the session: line n
is the n-th line that ever left the screen. A `History` keeps the newest `limit` of them (and
fewer when the daemon-wide `HistoryBudget` needs the memory back); the others are *evicted*
and only counted. `end` is the number of the newest line, `first` the number of the newest
evicted one, so the kept lines are `first + 1 .. end`.

The screen state (`ssp.screen.Framebuffer`) refers to a `History` and says up to which line
its history reaches (`history_end`): a diff carries the lines between two states by number,
and the lines it can no longer find here as a count of dropped lines.

Three kinds of entries, so that scrolling costs the emulator next to nothing and a flood
builds no row for the many lines evicted before anyone reads them: a `Row`; a `str`, a line of
plain text in the default rendition (the emulator's flood fast path, `termemu.flood`); or a
`LazyRow`, the emulator's own line object, which nothing changes once it scrolled off and which
becomes a `Row` (without its blank tail) only when read. Reading turns the entries read into
`Row`s in place, so what a client has seen costs only its trimmed size.

Memory. Each entry is charged an estimate of what it holds (`_row_cost`, `_text_cost`), an
upper bound for the common cases; a `HistoryBudget` shared by every session of a daemon
keeps the sum of its histories under `max_bytes`: when an append passes it, the *largest*
history (by charge) gives back its oldest lines until the total is below 7/8 of the budget
(so trimming happens in batches, not on every line). A session printing a lot thus pays
first; a quiet session keeps its scrollback.
"""

from __future__ import annotations

import bisect
import collections
from collections.abc import Iterator, Sequence
from typing import Protocol

from ssp.screen import DEFAULT_RENDITION, Row, encode_line, encode_text_line

DEFAULT_LIMIT = 10_000  # lines per session
DEFAULT_BUDGET_BYTES = 256 * 1024 * 1024  # for the whole daemon

# Estimated bytes per entry, upper bounds checked against tracemalloc (tests/unit/ssp/
# test_history.py): the chunk object and its two deque slots, plus for a Row the object and its
# two tuples (one pointer per cell each; cell strings and renditions are shared), for the
# emulator's line its two lists (which may be over-allocated), for text its string and, once
# read, its lines.
_CHUNK = 64 + 16
_ROW_OVERHEAD = _CHUNK + 48 + 2 * 40
_LAZY_OVERHEAD = _CHUNK + 64 + 2 * 72
_LAZY_PER_CELL = 18
_TEXT_OVERHEAD = 49 + 8

# Encoded lines kept for the diffs that carry them (recent numbers; older ones go first). Not
# charged to the budget: at most this many short byte strings per session.
_WIRE_CACHE = 1024


def _row_cost(row: Row) -> int:
    return _ROW_OVERHEAD + 16 * len(row.cells)


def _lazy_cost(width: int) -> int:
    return _LAZY_OVERHEAD + _LAZY_PER_CELL * width


def lazy_block_cost(chars: int, count: int) -> int:
    """The charge for a `LazyBlock` of `count` lines built from `chars` characters: its
    source, and the rows it may become (at most one cell per character)."""
    return 2 * chars + count * _ROW_OVERHEAD + 16 * chars


def text_row(text: str) -> Row:
    """The row of a plain-text entry: its characters in the default rendition (trailing
    blanks dropped, as the emulator drops them)."""
    text = text.rstrip(" ")
    return Row(tuple(text), (DEFAULT_RENDITION,) * len(text))


class LazyRow(Protocol):
    """A line that becomes a `Row` when read (`termemu.lines.Line`)."""

    def history_row(self) -> Row: ...

    def cells_count(self) -> int: ...


Entry = Row | str | LazyRow


def _as_row(entry: Entry) -> Row:
    if isinstance(entry, Row):
        return entry
    if isinstance(entry, str):
        return text_row(entry)
    return entry.history_row()


class LazyBlock(Protocol):
    """Several lines that become `Row`s when read, all at once (`termemu.flood`'s styled
    lines, which take an emulator to draw)."""

    def block_rows(self) -> list[Row]: ...


class HistoryLines(Protocol):
    """Where a screen state finds scrollback lines by number (`ssp.screen.Framebuffer`)."""

    def rows(self, after: int, through: int) -> tuple[int, list[Row]]:
        """Lines `after + 1 .. through` as (how many of them are missing, the others); the
        missing ones are always the oldest of the range."""
        ...

    def encoded(self, after: int, through: int) -> tuple[int, int, bytes]:
        """`rows` as a diff carries them: (missing, how many lines, their encodings)."""
        ...


class Delivered:
    """The client's side: the lines one diff brought, `end - len(lines) + 1 .. end`, and
    before them `dropped` lines the server no longer had."""

    __slots__ = ("dropped", "end", "lines")

    def __init__(self, end: int, dropped: int, lines: list[Row]) -> None:
        self.end = end
        self.dropped = dropped
        self.lines = lines

    @property
    def start(self) -> int:
        """The number of the line before the first one this covers (dropped ones included)."""
        return self.end - len(self.lines) - self.dropped

    def rows(self, after: int, through: int) -> tuple[int, list[Row]]:
        through = min(through, self.end)
        after = max(after, self.start)
        if through <= after:
            return 0, []
        first_kept = self.end - len(self.lines)  # the number before the first line we hold
        dropped = max(0, min(first_kept, through) - after)
        lo = max(after, first_kept) - first_kept
        hi = through - first_kept
        return dropped, self.lines[lo:hi]

    def encoded(self, after: int, through: int) -> tuple[int, int, bytes]:
        dropped, lines = self.rows(after, through)
        return dropped, len(lines), b"".join(map(encode_line, lines))


class HistoryBudget:
    """The byte budget every session's `History` of one daemon shares (see the module)."""

    def __init__(self, max_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self._histories: set[History] = set()

    def _join(self, history: History) -> None:
        self._histories.add(history)

    def leave(self, history: History) -> None:
        """A session ended: its lines are given back."""
        if history in self._histories:
            self._histories.discard(history)
            self.used -= history.bytes

    def _charged(self) -> None:
        if self.used <= self.max_bytes:
            return
        target = self.max_bytes * 7 // 8
        while self.used > target and self._histories:
            largest = max(self._histories, key=lambda h: h.bytes)
            if not largest.bytes:
                break
            largest.evict_bytes(self.used - target)


class _TextBlock:
    """Lines of plain text as the flood fast path found them: one string, LF between lines (a
    CR before each LF is allowed), split only if read."""

    __slots__ = ("_lines", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: list[str] | None = None

    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.replace("\r", "").split("\n")
        return self._lines


class _RowBlock:
    """A `LazyBlock` in the store, its rows kept once built."""

    __slots__ = ("_block", "_rows")

    def __init__(self, block: LazyBlock) -> None:
        self._block: LazyBlock | None = block
        self._rows: list[Row] = []

    def lines(self) -> list[Row]:
        if self._block is not None:
            self._rows = self._block.block_rows()
            self._block = None
        return self._rows


class _Chunk:
    """Lines `start + 1 .. start + count`: one entry, or a block of text lines."""

    __slots__ = ("cost", "count", "payload", "start")

    def __init__(self, start: int, count: int, payload: _Payload, cost: int):
        self.start = start
        self.count = count
        self.payload = payload
        self.cost = cost


_Payload = Row | LazyRow | _TextBlock | _RowBlock


class History:
    """One session's scrollback (see the module). Kept as chunks, oldest first: one line each,
    or a block of a flood's plain-text lines (one object per block, so the flood fast path
    hands over thousands of lines at the cost of one)."""

    def __init__(self, limit: int = DEFAULT_LIMIT, budget: HistoryBudget | None = None) -> None:
        self.limit = max(limit, 0)
        # Lines are evicted in batches: past `_high` kept lines, down to `limit`.
        self._high = self.limit + min(64, self.limit // 16)
        self.end = 0
        self.bytes = 0
        self._first = 0
        self._budget = budget
        self._chunks: collections.deque[_Chunk] = collections.deque()
        self._starts: collections.deque[int] = collections.deque()  # for bisect
        # Lines as a diff carries them, by number: a line is encoded once however many diffs
        # (resends, a diff from the acknowledged state beside the optimistic one) carry it.
        self._wire: dict[int, bytes] = {}
        if budget is not None:
            budget._join(self)

    @property
    def first(self) -> int:
        """The number of the newest evicted line (0 if none): kept lines follow it."""
        return self._first

    def __len__(self) -> int:
        return self.end - self._first

    # --- adding ----------------------------------------------------------------------------
    def append(self, row: Row) -> None:
        self._push(row, 1, _row_cost(row))

    def extend_rows(self, rows: list[Row]) -> None:
        for row in rows:
            self._push(row, 1, _row_cost(row))

    def append_lazy(self, line: LazyRow) -> None:
        """A line that scrolled off, as the emulator held it (never changed afterwards).
        Once per line feed at the bottom row: `_push`, kept short."""
        cost = _lazy_cost(line.cells_count())
        start = self.end
        self.end = start + 1
        self._chunks.append(_Chunk(start, 1, line, cost))
        self._starts.append(start)
        self._charge(cost)
        if start + 1 - self._first > self._high:
            self._evict_through(start + 1 - self.limit)

    def extend_lazy(self, lines: Sequence[LazyRow], width: int) -> None:
        cost = _lazy_cost(width)
        start = self.end
        chunks, starts = self._chunks, self._starts
        for line in lines:
            chunks.append(_Chunk(start, 1, line, cost))
            starts.append(start)
            start += 1
        self.end = start
        self._charge(cost * len(lines))
        if self.end - self._first > self._high:
            self._evict_through(self.end - self.limit)

    def extend_text(self, texts: list[str], width: int) -> None:
        """Lines of plain text in the default rendition, each at most `width` characters."""
        if texts:
            self.add_text_block("\n".join(texts), len(texts))

    def add_text_block(self, text: str, count: int) -> None:
        """`count` lines of plain text in the default rendition: `text` holds them with an LF
        between each two (and maybe a CR before each LF), none wider than the screen."""
        if count > 0:
            # The string, and its lines if a client ever reads them.
            cost = 2 * len(text) + count * _TEXT_OVERHEAD + _ROW_OVERHEAD
            self._push(_TextBlock(text), count, cost)

    def skip(self, count: int) -> None:
        """`count` lines scrolled off that nobody will ever see: counted as evicted without
        being built (and so is everything before them)."""
        if count > 0:
            self.end += count
            self._evict_through(self.end)

    def add_lazy_block(self, block: LazyBlock, count: int, cost: int) -> None:
        """`count` lines that `block` builds when read; `cost`: its bytes until then."""
        if count > 0:
            self._push(_RowBlock(block), count, cost)

    def _push(self, payload: _Payload, count: int, cost: int) -> None:
        chunk = _Chunk(self.end, count, payload, cost)
        self.end += count
        self._chunks.append(chunk)
        self._starts.append(chunk.start)
        self._charge(cost)
        if self.end - self._first > self._high:
            self._evict_through(self.end - self.limit)

    def _evict_through(self, number: int) -> None:
        """Lines up to `number` are evicted; chunks holding none of the others go."""
        if number <= self._first:
            return
        self._first = min(number, self.end)
        chunks, freed = self._chunks, 0
        while chunks and chunks[0].start + chunks[0].count <= self._first:
            freed += chunks.popleft().cost
            self._starts.popleft()
        if freed:
            self._uncharge(freed)

    def evict_bytes(self, wanted: int) -> None:
        """Give back at least `wanted` bytes (or all), oldest lines first (the budget's call)."""
        freed = 0
        through = self._first
        for chunk in self._chunks:
            if freed >= wanted:
                break
            freed += chunk.cost
            through = chunk.start + chunk.count
        self._evict_through(through)

    def _charge(self, cost: int) -> None:
        self.bytes += cost
        if self._budget is not None:
            self._budget.used += cost
            if self._budget.used > self._budget.max_bytes:
                self._budget._charged()

    def _uncharge(self, cost: int) -> None:
        self.bytes -= cost
        if self._budget is not None:
            self._budget.used -= cost

    def close(self) -> None:
        """The session ended: free everything and leave the budget."""
        if self._budget is not None:
            self._budget.leave(self)
            self._budget = None
        self.bytes = 0
        self._chunks.clear()
        self._starts.clear()
        self._wire.clear()

    # --- reading ---------------------------------------------------------------------------
    def _entries(self, start: int, through: int) -> Iterator[tuple[int, _Chunk, Entry]]:
        """(number, chunk, entry) for the kept lines `start + 1 .. through`."""
        chunks = self._chunks
        index = max(bisect.bisect_right(self._starts, start) - 1, 0)
        number = start
        while number < through and index < len(chunks):
            chunk = chunks[index]
            index += 1
            stop = min(through, chunk.start + chunk.count)
            payload = chunk.payload
            if isinstance(payload, (_TextBlock, _RowBlock)):
                lines: list[str] | list[Row] = payload.lines()
                for n in range(number + 1, stop + 1):
                    yield n, chunk, lines[n - chunk.start - 1]
            elif stop > number:
                yield stop, chunk, payload
            number = max(number, stop)

    def _bounds(self, after: int, through: int) -> tuple[int, int, int]:
        """(evicted lines of the range, start, through) for reading `after + 1 .. through`."""
        through = min(through, self.end)
        if through <= after:
            return 0, after, after
        if through <= self._first:
            return through - after, through, through
        start = max(after, self._first)
        return start - after, start, through

    def encoded(self, after: int, through: int) -> tuple[int, int, bytes]:
        """`rows(after, through)` encoded for the wire (`ssp.screen.encode_line`): (evicted,
        how many kept lines, their encodings), each line encoded once while it is recent."""
        dropped, start, through = self._bounds(after, through)
        wire = self._wire
        parts: list[bytes] = []
        freed = 0
        for number, chunk, entry in self._entries(start, through):
            part = wire.get(number)
            if part is None:
                if isinstance(entry, str):
                    part = encode_text_line(entry)
                elif isinstance(entry, Row):
                    part = encode_line(entry)
                else:
                    # Read once: keep the trimmed row instead of the emulator's whole line.
                    row = entry.history_row()
                    chunk.payload = row
                    cost = _row_cost(row)
                    freed += chunk.cost - cost
                    chunk.cost = cost
                    part = encode_line(row)
                wire[number] = part
            parts.append(part)
        if freed:
            self._uncharge(freed)
        if len(wire) > _WIRE_CACHE:
            for old in [n for n in wire if n <= through - _WIRE_CACHE // 2]:
                del wire[old]
        return dropped, len(parts), b"".join(parts)

    def rows(self, after: int, through: int) -> tuple[int, list[Row]]:
        """Lines `after + 1 .. through` as (how many of them are evicted, the kept ones): the
        evicted ones are always the oldest of the range."""
        dropped, start, through = self._bounds(after, through)
        return dropped, [_as_row(entry) for _, _, entry in self._entries(start, through)]
