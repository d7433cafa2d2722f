"""A server's side of a protocol-2 session: the screen state it syncs to a stock client, and
the client's cursor keys as upstream's server rewrites them. Sans-IO.

`HostScreen` is the server endpoint's local state (`ssp.state.SyncState`): a framebuffer
snapshot of the session's screen, whose echo ack it carries. Its diff from an older state is
what upstream's server sends (`Terminal::Complete::diff_from`): the echo ack if it changed, the
size if it changed, then the escape sequences that take the client's emulator from the old
screen to the new one (`ssp.proto2.frames.new_frame`).

State 0 is *unknown*: a stock client starts from a blank screen of its own window's size,
which the server does not know, so the first frame (and any frame diffed from state 0, such as
a retransmission before the first ack) carries the size and a repaint from a cleared screen.

Equality must agree with the diff being empty, or the sender would keep finding a "new" state
with nothing to send: so the framebuffer is trimmed, when a state is made, of what no
protocol-2 frame carries (the farewell, the alternate-screen flag, scrollback, the cursor-key
and keypad modes, which upstream's server never forwards).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Self

from ssp.codec import DecodeError
from ssp.proto2.frames import new_frame
from ssp.proto2.messages import encode_host_frame
from ssp.screen import Framebuffer


class HostScreen:
    """One state of the screen a stock client is shown (None: state 0, unknown)."""

    __slots__ = ("fb",)

    def __init__(self, fb: Framebuffer | None = None) -> None:
        self.fb = fb

    @classmethod
    def of(cls, fb: Framebuffer) -> HostScreen:
        """The state showing `fb` (a fresh snapshot, which this takes over and trims)."""
        fb.farewell = ""
        fb.alternate_screen = False  # upstream's client has no alternate screen
        fb.history_end = 0
        fb.history = None
        if fb.modes.app_cursor_keys or fb.modes.app_keypad:
            fb.modes = replace(fb.modes, app_cursor_keys=False, app_keypad=False)
        return cls(fb)

    @property
    def echo_ack(self) -> int:
        return 0 if self.fb is None else self.fb.echo_ack

    # --- ssp.state.SyncState ----------------------------------------------------------------
    def copy(self) -> Self:
        return type(self)(self.fb)  # a published framebuffer is never changed again

    def diff_from(self, old: Self) -> bytes:
        new_fb, old_fb = self.fb, old.fb
        if new_fb is None or new_fb is old_fb:
            return b""
        echo_ack = self.echo_ack if self.echo_ack != old.echo_ack else None
        resized = old_fb is None or (old_fb.width, old_fb.height) != (new_fb.width, new_fb.height)
        size = (new_fb.width, new_fb.height) if resized else None
        return encode_host_frame(echo_ack, size, new_frame(old_fb, new_fb))

    def apply(self, diff: bytes) -> None:
        raise DecodeError("a server never receives host frames")

    def subtract(self, prefix: Self) -> None:
        """Screens are not cumulative: nothing to forget."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HostScreen):
            return NotImplemented
        return self.fb is other.fb or (
            self.fb is not None and other.fb is not None and self.fb == other.fb
        )

    __hash__ = None  # type: ignore[assignment]  # mutable


class CursorKeys:
    """Upstream's server-side rewriting of cursor keys (`Terminal::UserInput::input`).

    Upstream's client keeps its real terminal in application cursor-key mode all session, so
    arrows arrive as `ESC O A`..`ESC O D`; unless the application set DECCKM, the server turns
    them into `ESC [ A`..`ESC [ D`. A byte-at-a-time machine whose state carries over between
    keystroke messages: an `ESC O` at the end of one is held until the next byte comes.
    """

    __slots__ = ("_state",)

    _GROUND, _ESC, _SS3 = range(3)

    def __init__(self) -> None:
        self._state = self._GROUND

    def translate(self, data: bytes, app_cursor_keys: bool) -> bytes:
        if self._state == self._GROUND and b"\x1b" not in data:
            return data  # the common case: no escape in sight
        out = bytearray()
        for byte in data:
            if self._state == self._GROUND:
                if byte == 0x1B:
                    self._state = self._ESC
                out.append(byte)
            elif self._state == self._ESC:
                if byte == 0x4F:  # "O": 7-bit SS3; held until the next byte
                    self._state = self._SS3
                    continue
                self._state = self._GROUND
                out.append(byte)
            else:
                self._state = self._GROUND
                if not app_cursor_keys and 0x41 <= byte <= 0x44:  # A..D
                    out += b"[" + bytes((byte,))
                else:
                    out += b"O" + bytes((byte,))
        return bytes(out)
