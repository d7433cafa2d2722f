"""The client's copy of the screen in a protocol-2 session (a stock `mosh-server`).

A stock server's diff (`HostBuffers.HostMessage`, see `ssp.proto2.messages`) is escape
sequences that take the client's terminal from the old screen to the new one, plus a resize
and the echo ack. `Proto2Screen` applies them to a client-side emulator (`termemu`, the one the
daemon uses) and is, after each diff, that emulator's snapshot: a `ssp.screen.Framebuffer`, so
the rest of the client (prediction, overlay, display, exit messages) reads it exactly as it
reads a native session's screen.

Copies and the live emulator. The transport keeps several received states and applies each
diff to a copy of the state the server diffed against (usually the newest). An emulator is
too costly to copy per state, so all copies of one session share one live emulator and a
note of which state it currently shows (`_serial`; a copy keeps its original's, since it
shows the same screen). `apply` feeds the live emulator when it shows the base state, the
common case; otherwise (the server diffed against an older state: loss, reordering) it first
rebuilds an emulator from the base's framebuffer and pen (`termemu.restore.restore`). Both
give the same screen because every upstream frame is self-contained as to the terminal
state it leaves: the cursor at a true position, no scrolling region, and the pen that frame's
screen had, which we keep beside the framebuffer (`pen`).

The first state is a blank screen of the client's own window, as upstream's client starts:
the server's first frame carries a resize, a clear and a full repaint whenever its screen has
another size, and otherwise draws onto that blank screen.

Cursor keys: a stock server never forwards DECCKM, and rewrites `ESC O A..D` to `ESC [ A..D`
itself unless its application set DECCKM; upstream's client therefore keeps the real terminal
in application cursor-key mode all session. So do we: every snapshot says `app_cursor_keys`,
which makes the display put the real terminal in that mode and the client send arrows as the
terminal wrote them (see `mosh_client.escape.rewrite_cursor_keys`).

Whatever the emulator would answer (frames never ask anything) is discarded.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from ssp.codec import DecodeError
from ssp.proto2.messages import EchoAck, HostBytes, WindowSize, decode_host_message
from ssp.screen import Framebuffer
from termemu.emulator import Emulator
from termemu.restore import DEFAULT_PEN, restore
from termemu.sgr import Pen

MAX_SIDE = 4096  # as ssp.screen: a larger screen is refused
_serials = itertools.count(1)


class _LiveEmulator:
    """The emulator all copies of one session's screen share, and the state it shows."""

    __slots__ = ("emulator", "rebuilds", "serial")

    def __init__(self) -> None:
        self.emulator: Emulator | None = None
        self.serial = 0  # the `_serial` of the state the emulator shows (0: none)
        self.rebuilds = 0  # emulators made from a framebuffer (tests, diagnostics)


class Proto2Screen(Framebuffer):
    """A `Framebuffer` whose diffs are a stock server's HostMessages."""

    __slots__ = ("_live", "_serial", "pen")

    def __init__(self, width: int = 80, height: int = 24) -> None:
        super().__init__(width=width, height=height)
        self.modes = replace(self.modes, app_cursor_keys=True)
        self.pen: Pen = DEFAULT_PEN
        self._live = _LiveEmulator()
        self._serial = next(_serials)

    @property
    def rebuilds(self) -> int:
        """How many times an emulator was rebuilt from a framebuffer in this session (the
        first one included)."""
        return self._live.rebuilds

    # --- ssp.state.SyncState ----------------------------------------------------------------
    def copy(self) -> Proto2Screen:
        clone = Proto2Screen.__new__(Proto2Screen)
        for name in Framebuffer.__slots__:
            setattr(clone, name, getattr(self, name))
        clone.rows = list(self.rows)
        clone.pen = self.pen
        clone._live = self._live
        clone._serial = self._serial
        return clone

    def apply(self, diff: bytes) -> None:
        """Apply a HostMessage. Raises `DecodeError` (leaving self unchanged) if it is not
        one, or resizes the screen out of range."""
        items = decode_host_message(diff)
        for item in items:
            if isinstance(item, WindowSize) and not (
                1 <= item.width <= MAX_SIDE and 1 <= item.height <= MAX_SIDE
            ):
                raise DecodeError(f"screen size {item.width}x{item.height} out of range")
        echo_ack = self.echo_ack
        if not any(isinstance(item, HostBytes | WindowSize) for item in items):
            # The screen is unchanged: so is what the live emulator shows (if it shows us).
            for item in items:
                if isinstance(item, EchoAck):
                    echo_ack = item.echo_ack_num
            self.echo_ack = echo_ack
            return
        emulator = self._emulator()
        for item in items:
            if isinstance(item, WindowSize):
                emulator.resize(item.width, item.height)
            elif isinstance(item, HostBytes):
                emulator.feed(item.hoststring)
                emulator.take_replies()  # the server never asks: nothing may answer it
            else:
                echo_ack = item.echo_ack_num
        self._take_snapshot(emulator, echo_ack)
        self._serial = next(_serials)
        self._live.serial = self._serial

    def diff_from(self, old: Framebuffer) -> bytes:
        raise NotImplementedError("a client never sends its copy of the screen")

    # --- helpers ----------------------------------------------------------------------------
    def _emulator(self) -> Emulator:
        """An emulator showing this state: the live one if it does, else one rebuilt from
        this framebuffer (which then becomes the live one)."""
        live = self._live
        if live.emulator is None or live.serial != self._serial:
            live.emulator = restore(self, self.pen)
            live.serial = self._serial
            live.rebuilds += 1
        return live.emulator

    def _take_snapshot(self, emulator: Emulator, echo_ack: int) -> None:
        snapshot = emulator.snapshot(echo_ack)
        for name in Framebuffer.__slots__:
            if name != "farewell":  # a stock server gives no reason
                setattr(self, name, getattr(snapshot, name))
        self.modes = replace(self.modes, app_cursor_keys=True)
        self.pen = emulator.screen.pen_tuple
