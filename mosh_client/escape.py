"""The escape-key state machine, and the cursor-key rewrite applied to what the user types.

Escape sequences (upstream `STMClient::process_user_input`, `mosh(1)` "ESCAPE SEQUENCES"):

- The escape key defaults to Ctrl-^ (RS, 0x1E). `MOSH_ESCAPE_KEY` may name any single ASCII
  character 1–127, except Ctrl-C, Ctrl-D, LF, Ctrl-L and CR, which fall back to the default; an
  empty value disables escapes altogether; anything else (longer, non-ASCII) means the default.
- A control-character escape key (< 0x20) is recognised anywhere. Any other key (printable, and
  DEL as upstream treats it) only at the start of a line, that is after CR or LF, like ssh's `~`.
- After the escape key: `.` quits, Ctrl-Z suspends, the "pass key" sends the escape key itself,
  and anything else sends both bytes. The pass key is the key's letter for a control key
  (Ctrl-^ → `^`, Ctrl-B → `B` or `b`) and the key itself otherwise (`~~` → `~`).

Deliberate differences from upstream, both so that `~` behaves as it does in ssh:
- the very start of the session counts as the start of a line (upstream needs a CR/LF first);
- after an escape sequence, the line-start state follows what was actually sent: `~` + CR sends
  both and leaves us at a line start; a suspend sends nothing, so the line start survives it.
  (Upstream leaves "not at a line start" after any escape sequence.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_ESCAPE_KEY = 0x1E  # Ctrl-^ (RS)
QUIT_BYTE = ord(".")
SUSPEND_BYTE = 0x1A  # Ctrl-Z
_NEWLINES = (0x0A, 0x0D)
# Upstream refuses these as escape keys: Ctrl-C and Ctrl-D are too important to the remote side,
# and CR/LF/Ctrl-L would make line-start detection and repainting misbehave.
FORBIDDEN_ESCAPE_KEYS = frozenset({0x03, 0x04, 0x0A, 0x0C, 0x0D})


@dataclass(frozen=True)
class Quit:
    """The user asked to end the session (escape + `.`)."""


@dataclass(frozen=True)
class Suspend:
    """The user asked to suspend the client (escape + Ctrl-Z)."""


@dataclass(frozen=True)
class SendBytes:
    """Keystrokes to send to the server, in order."""

    data: bytes


Action = Quit | Suspend | SendBytes


def parse_escape_key(value: str | None) -> int | None:
    """`MOSH_ESCAPE_KEY` → the escape byte, or None when escapes are disabled.

    Mirrors upstream's `STMClient::init`: unset → default; empty → disabled; one character in
    1–127 that is not forbidden → that character; anything else → default, silently.
    """
    if value is None:
        return DEFAULT_ESCAPE_KEY
    if value == "":
        return None
    if len(value) != 1:
        return DEFAULT_ESCAPE_KEY
    code = ord(value)
    if not 1 <= code <= 127 or code in FORBIDDEN_ESCAPE_KEYS:
        return DEFAULT_ESCAPE_KEY
    return code


def _pass_keys(escape_key: int) -> frozenset[int]:
    """The bytes that, typed after the escape key, send the escape key itself."""
    # A control key is "passed" by its letter (Ctrl-^ → ^); anything else by repeating it.
    key = escape_key + 0x40 if escape_key < 0x20 else escape_key
    if ord("A") <= key <= ord("Z"):
        return frozenset({key, key + 0x20})  # Ctrl-B is passed by B or b
    return frozenset({key})


def _key_name(escape_key: int) -> str:
    if escape_key < 0x20:
        return f"Ctrl-{chr(escape_key + 0x40)}"
    if escape_key == 0x7F:
        return "Ctrl-?"  # upstream would print the raw DEL byte, which draws as nothing
    return chr(escape_key)


class EscapeMachine:
    """Turns the bytes the user types into actions: keystrokes to send, quit, suspend.

    `feed` may be given one byte at a time or a whole paste; the state (an escape key waiting
    for its command, whether we are at the start of a line) carries over between calls.
    """

    def __init__(self, escape_key: int | None = DEFAULT_ESCAPE_KEY) -> None:
        if escape_key is not None and (
            not 1 <= escape_key <= 127 or escape_key in FORBIDDEN_ESCAPE_KEYS
        ):
            raise ValueError(f"not a usable escape key: {escape_key!r}")
        self.escape_key = escape_key
        self._pass = _pass_keys(escape_key) if escape_key is not None else frozenset()
        # Only control keys may be recognised mid-line; a printable one would eat real text.
        self._needs_line_start = escape_key is not None and escape_key >= 0x20
        self._pending = False
        self._line_start = True
        self._line_start_before_escape = True

    @property
    def hint(self) -> str:
        """How to quit, for the notification bar: "Ctrl-^ ." or "~ ." ("" when disabled)."""
        if self.escape_key is None:
            return ""
        return f"{_key_name(self.escape_key)} ."

    def feed(self, data: bytes) -> list[Action]:
        """The actions for `data`; consecutive keystrokes come out merged in one SendBytes.

        Nothing after a Quit is looked at: the session is ending (upstream drops it too).
        """
        actions: list[Action] = []
        keys = bytearray()

        def flush() -> None:
            if keys:
                actions.append(SendBytes(bytes(keys)))
                keys.clear()

        for byte in data:
            if self._pending:
                command = self._command(byte, keys)
                if command is not None:
                    flush()
                    actions.append(command)
                    if isinstance(command, Quit):
                        return actions
            elif self._starts_escape(byte):
                self._pending = True
                self._line_start_before_escape = self._line_start
                self._line_start = False
            else:
                keys.append(byte)
                self._line_start = byte in _NEWLINES
        flush()
        return actions

    def _starts_escape(self, byte: int) -> bool:
        if self.escape_key is None or byte != self.escape_key:
            return False
        return self._line_start or not self._needs_line_start

    def _command(self, byte: int, keys: bytearray) -> Quit | Suspend | None:
        """Handle the byte after the escape key: a command, or keystrokes appended to `keys`."""
        assert self.escape_key is not None
        self._pending = False
        if byte == QUIT_BYTE:
            return Quit()
        if byte == SUSPEND_BYTE:
            # Nothing reaches the server, so whatever line start we had still holds.
            self._line_start = self._line_start_before_escape
            return Suspend()
        if byte in self._pass:
            keys.append(self.escape_key)
            self._line_start = False
            return None
        keys.append(self.escape_key)
        keys.append(byte)
        self._line_start = byte in _NEWLINES
        return None


# --- cursor keys ------------------------------------------------------------------------------

_SS3_CURSOR = re.compile(rb"\x1bO([A-D])")


def rewrite_cursor_keys(data: bytes, app_cursor_keys: bool) -> bytes:
    """Turn the arrow keys' SS3 form (`ESC O A`..`D`) into the CSI form (`ESC [ A`..`D`)
    unless the remote application asked for application cursor keys (DECCKM, `CSI ? 1 h`).

    Why it exists: upstream's display puts the user's real terminal in application cursor-key
    mode for the whole session (`Display::open()` writes `ESC [ ? 1 h`, `close()` undoes it),
    so arrows always arrive as `ESC O x`; the server's emulator (`Terminal::UserInput::input`)
    then rewrites them according to the DECCKM mode of the remote application. Our display
    instead forwards the application's DECCKM to the real terminal (`display._modes_output`), so
    arrows normally arrive in the form the application asked for; the rewrite keeps upstream's
    rule that the application's mode, not the real terminal's, decides the form of an arrow.

    We do it in the client with the modes of the newest remote screen. The mode can be stale by
    up to a round trip, but only across the instant an application switches DECCKM (starting or
    leaving vim/less), and the real terminal, which gets the mode with the same screen, lags
    the same way.

    Unlike upstream's byte-at-a-time machine this works on whole chunks: the terminal writes a
    key's sequence at once, so it arrives in one read. It also rewrites the arrow after a
    leading ESC (`ESC ESC O A`, Alt+Up with meta-sends-escape), which upstream passes as is.
    """
    if app_cursor_keys or b"\x1bO" not in data:
        return data
    return _SS3_CURSOR.sub(b"\x1b[\\1", data)
