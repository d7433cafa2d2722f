"""The terminal emulator's facade: bytes from the application in, `Framebuffer`s out.

State lives in `EmulatorScreen` (pyte's `Screen`, extended and corrected, `termemu.screen`);
tokenizing is `termemu.parser`'s. This class decodes UTF-8 incrementally, hands the text to the
parser, queues the terminal's replies, resizes, and snapshots the screen into an
`ssp.screen.Framebuffer`.
"""

from __future__ import annotations

import codecs
import logging

from ssp.history import History
from ssp.screen import Framebuffer
from termemu.parser import Parser
from termemu.screen import EmulatorScreen

# The standard library's logging, not structlog: see termemu.parser.
log = logging.getLogger(__name__)


class Emulator:
    """The terminal the application runs in, as the daemon's session sees it."""

    def __init__(
        self,
        width: int = 80,
        height: int = 24,
        fast_path: bool = True,
        history: History | None = None,
    ) -> None:
        """`fast_path=False` turns off the flood fast path (`termemu.flood`): every byte goes
        through full emulation. The result is the same; tests compare the two. `history`: where
        the lines that scroll off the top of the main screen go (the session's scrollback)."""
        self._screen = EmulatorScreen(max(width, 1), max(height, 1))
        self._screen.history = history
        self._parser = Parser(self._screen, fast_path)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    @property
    def width(self) -> int:
        return int(self._screen.columns)

    @property
    def height(self) -> int:
        return int(self._screen.lines)

    @property
    def history(self) -> History | None:
        return self._screen.history

    @property
    def screen(self) -> EmulatorScreen:
        return self._screen

    def feed(self, data: bytes) -> None:
        """Process output of the application. Never raises."""
        try:
            text = self._decoder.decode(data)
        except Exception:  # cannot happen with errors="replace"; be certain anyway
            self._decoder.reset()
            text = bytes(data).decode("utf-8", "replace")
        self._parser.feed(text)

    def take_replies(self) -> bytes:
        """Bytes the terminal answers the application with (DA, DSR, ...); empties the queue."""
        replies = bytes(self._screen.replies)
        self._screen.replies.clear()
        return replies

    def resize(self, width: int, height: int) -> None:
        try:
            self._screen.resize(lines=max(height, 1), columns=max(width, 1))
        except Exception:
            log.warning("emulator.resize_failed", exc_info=True)
            self._screen.repair()

    def snapshot(self, echo_ack: int = 0) -> Framebuffer:
        """The screen as a framebuffer; unchanged lines give the identical `Row` object."""
        screen = self._screen
        cursor = screen.cursor
        width = screen.columns
        rows = [line.row or line.freeze() for line in screen.grid]
        fb = Framebuffer(
            width=width,
            height=screen.lines,
            rows=[],  # set below: Framebuffer's per-row size check costs more than the rest
            cursor_row=cursor.y,
            cursor_col=min(cursor.x, width - 1),
            modes=screen.modes(),
            title=screen.title,
            icon_name=screen.icon_name,
            bell_count=screen.bell_count,
            clipboard=screen.clipboard,
            echo_ack=echo_ack,
            alternate_screen=not screen.grid_is_main,
        )
        fb.rows = rows  # every _Line has exactly `width` cells, and there are `lines` of them
        return fb
