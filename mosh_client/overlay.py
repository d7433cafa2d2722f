"""The notification bar and the composition of the frame the display draws.

Pure functions: times come in as arguments (seconds, any monotonic clock), nothing is read or
written. The wording, thresholds and refresh rates follow upstream mosh's `NotificationEngine`
(src/frontend/terminaloverlay.cc) and `STMClient` (src/frontend/stmclient.cc):

* "mosh: Last contact 7 seconds ago. [To quit: Ctrl-^ .]" once nothing new was heard from the
  server for more than 6.5 s;
* "mosh: Last reply 12 seconds ago. [To quit: Ctrl-^ .]" once the server has not acknowledged
  our input for more than 10 s while it is still heard from (an uplink-only problem);
* "mosh: Nothing received from server on UDP port 60001. [To quit: Ctrl-^ .]" while the first
  connection is being made (after 250 ms), with "(7 s without contact.)" inserted once the
  count-up starts too;
* durations are truncated seconds: "12 seconds", then "1:05", then "1:02:05";
* the count-up ticks every second, every 3 s after a minute without contact (mosh #243).
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache

from ssp.screen import (
    BOLD,
    DEFAULT_COLOR,
    DEFAULT_RENDITION,
    Framebuffer,
    Row,
    blank_row,
    intern_rendition,
    is_wide,
    palette_color,
)
from ssp.width import char_width

SERVER_LATE = 6.5  # seconds without a new state from the server before "Last contact"
REPLY_LATE = 10.0  # seconds without an ack of our input before "Last reply"
CONNECTING_GRACE = 0.25  # upstream shows the connecting message after 250 ms
SLOW_COUNTUP_AFTER = 60.0  # after this long without contact the bar ticks less often
SLOW_COUNTUP_INTERVAL = 3.0  # upstream's ACK_INTERVAL
COUNTUP_INTERVAL = 1.0

# Upstream: bold white on blue across the whole top row. The bar's blank cells keep the
# default foreground: they look the same and the display can erase them (BCE) instead of
# writing spaces.
BAR_TEXT = intern_rendition(palette_color(7), palette_color(4), BOLD)
BAR_BLANK = intern_rendition(DEFAULT_COLOR, palette_color(4), 0)


def format_duration(seconds: float, unit: str = "seconds") -> str:
    """Upstream's `human_readable_duration`: "12 seconds", "1:05", "1:02:05" (truncated)."""
    total = max(int(seconds), 0)
    if total < 60:
        return f"{total} {unit}"
    if total < 3600:
        return f"{total // 60}:{total % 60:02d}"
    return f"{total // 3600}:{total // 60 % 60:02d}:{total % 60:02d}"


def _elapsed(
    now: float, last_heard: float | None, last_acked: float | None, started: float
) -> tuple[float, float]:
    """Seconds since the server was last heard and since our input was last acknowledged.
    Before anything happened both count from the start, as upstream's engine does."""
    heard = started if last_heard is None else last_heard
    acked = started if last_acked is None else last_acked
    return now - heard, now - acked


def notification_text(
    now: float,
    *,
    last_heard: float | None,
    last_acked: float | None,
    started: float,
    server_port: int,
    escape_hint: str = "Ctrl-^ .",
    connecting_grace: float = CONNECTING_GRACE,
) -> str | None:
    """The notification bar's text at `now`, or None when there is nothing to say.

    `last_heard`: when the newest state (a heartbeat counts) arrived from the server, None if
    none ever did. `last_acked`: when the newest of our states that the server acknowledged was
    sent (upstream's `get_sent_state_acked_timestamp`), None if none was. `started`: when the
    client started. `escape_hint`: how to quit, e.g. 'Ctrl-^ .' or '"~" .'.
    """
    since_heard, since_acked = _elapsed(now, last_heard, last_acked, started)
    server_late = since_heard > SERVER_LATE
    reply_late = since_acked > REPLY_LATE
    message = ""
    if last_heard is None and now - started > connecting_grace:
        message = f"Nothing received from server on UDP port {server_port}."
    if not message and not (server_late or reply_late):
        return None
    quit_hint = f" [To quit: {escape_hint}]"
    # Prefer "contact" when the server is silent; "reply" means only the uplink is broken.
    explanation, elapsed = ("contact", since_heard)
    if reply_late and not server_late:
        explanation, elapsed = ("reply", since_acked)
    if not (server_late or reply_late):
        return f"mosh: {message}{quit_hint}"
    if not message:
        return f"mosh: Last {explanation} {format_duration(elapsed)} ago.{quit_hint}"
    duration = format_duration(elapsed, "s")
    return f"mosh: {message} ({duration} without {explanation}.){quit_hint}"


def notification_refresh_interval(
    now: float,
    *,
    last_heard: float | None,
    last_acked: float | None,
    started: float,
    connecting_grace: float = CONNECTING_GRACE,
) -> float:
    """Seconds the render task may wait before redrawing the bar, if no event (a datagram, an
    ack) comes first: until the text next changes, except after a minute without contact,
    when (as upstream, to save power) the count-up is shown only every 3 s."""
    since_heard, since_acked = _elapsed(now, last_heard, last_acked, started)
    waits: list[float] = []
    # Thresholds still ahead: the bar appears, or switches from "reply" to "contact".
    for since, limit in ((since_heard, SERVER_LATE), (since_acked, REPLY_LATE)):
        if since <= limit:
            waits.append(limit - since)
    if last_heard is None and now - started <= connecting_grace:
        waits.append(connecting_grace - (now - started))
    server_late = since_heard > SERVER_LATE
    reply_late = since_acked > REPLY_LATE
    if server_late or reply_late:
        elapsed = since_acked if reply_late and not server_late else since_heard
        step = SLOW_COUNTUP_INTERVAL if since_heard > SLOW_COUNTUP_AFTER else COUNTUP_INTERVAL
        # The next moment the shown (truncated) count reaches a multiple of `step`.
        waits.append((math.floor(elapsed / step) + 1) * step - elapsed)
    # A tiny floor so float rounding at a boundary cannot make the caller spin.
    return max(min(waits, default=COUNTUP_INTERVAL), 0.001)


# --- composition -----------------------------------------------------------------------------
_FIT_CACHE_MAX = 4096
# (id(row), width) -> (row, fitted row). Keeping the source row alive keeps its id unique, and
# returning the same fitted object frame after frame lets the display skip it by identity.
_fit_cache: dict[tuple[int, int], tuple[Row, Row]] = {}


def fit_row(row: Row, width: int) -> Row:
    """`row` cropped or padded (with default blanks) to `width` columns."""
    if row.width == width:
        return row
    key = (id(row), width)
    hit = _fit_cache.get(key)
    if hit is not None and hit[0] is row:
        return hit[1]
    if row.width > width:
        cells = list(row.cells[:width])
        renditions = row.renditions[:width]
        if cells and is_wide(cells[-1]):
            cells[-1] = " "  # its right half fell off the edge
        fitted = Row(tuple(cells), renditions)
    else:
        pad = width - row.width
        fitted = Row(row.cells + (" ",) * pad, row.renditions + (DEFAULT_RENDITION,) * pad)
    if len(_fit_cache) >= _FIT_CACHE_MAX:
        _fit_cache.clear()
    _fit_cache[key] = (row, fitted)
    return fitted


@lru_cache(maxsize=64)
def bar_row(text: str, width: int) -> Row:
    """The notification bar: `text` in bold white on blue, blue to the right edge.

    Cached, so an unchanged bar is the same object each frame and costs the display nothing.
    """
    cells = [" "] * width
    renditions = [BAR_BLANK] * width
    x = 0
    for char in text:
        if char < " " or "\x7f" <= char <= "\x9f":
            continue
        size = char_width(char)
        if size == 0:  # a combining mark joins the cell before
            if x:
                left = x - 1 if cells[x - 1] != "" else x - 2
                cells[left] += char
            continue
        if x + size > width:
            break
        cells[x] = char
        renditions[x] = BAR_TEXT
        if size == 2:
            cells[x + 1] = ""
            renditions[x + 1] = BAR_TEXT
        x += size
    return Row(tuple(cells), tuple(renditions))


def _rows_to_keep(height: int, wanted: int, cursor_row: int) -> tuple[int, int]:
    """Which rows [first, end) survive when a screen of `height` rows shows in `wanted` rows:
    rows below the cursor go first, then rows from the top, as the server's emulator does on
    a resize (so the server's next frame matches what we show)."""
    excess = height - wanted
    below = min(max(height - 1 - cursor_row, 0), excess)
    first = excess - below
    return first, first + wanted


def compose(remote: Framebuffer, width: int, height: int, notification: str | None) -> Framebuffer:
    """The frame to draw on a `width` x `height` terminal: the remote screen cropped or padded
    to that size, with the notification bar (if any) over its top row. `remote` is untouched."""
    rows = [fit_row(row, width) for row in remote.rows]
    cursor_row = remote.cursor_row
    if len(rows) > height:
        first, end = _rows_to_keep(len(rows), height, cursor_row)
        rows = rows[first:end]
        cursor_row -= first
    elif len(rows) < height:
        rows += [blank_row(width)] * (height - len(rows))
    cursor_row = min(max(cursor_row, 0), height - 1)
    cursor_col = min(remote.cursor_col, width - 1)
    modes = remote.modes
    if notification is not None:
        rows[0] = bar_row(notification, width)
        if cursor_row == 0 and modes.cursor_visible:
            modes = replace(modes, cursor_visible=False)  # upstream hides it under the bar
    return Framebuffer(
        width=width,
        height=height,
        rows=rows,
        cursor_row=cursor_row,
        cursor_col=cursor_col,
        modes=modes,
        title=remote.title,
        icon_name=remote.icon_name,
        bell_count=remote.bell_count,
        clipboard=remote.clipboard,
        echo_ack=remote.echo_ack,
        alternate_screen=remote.alternate_screen,
    )
