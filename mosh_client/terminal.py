"""The user's real terminal: raw mode that is always undone, and the window size.

`RawTerminal` saves the terminal driver's settings, switches to raw mode the way upstream's
`STMClient::init` does (IUTF8, then cfmakeraw), and puts the saved settings back on every way
out of its `with` block: normal exit, an exception, KeyboardInterrupt, Trio cancellation. An
`atexit` hook is the last resort for a process that exits with the block still open (an
exception escaping a thread, `sys.exit` from a signal handler...). Only `os._exit` and signals
with their default action get past it.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import os
import signal
import struct
import sys
import termios
from collections.abc import Callable
from types import TracebackType
from typing import Any

# What termios.tcgetattr returns: [iflag, oflag, cflag, lflag, ispeed, ospeed, cc].
Attributes = list[Any]
_IFLAG, _OFLAG, _CFLAG, _LFLAG, _CC = 0, 1, 2, 3, 6
# termios.IUTF8 only exists from Python 3.13; the flag is 0o40000 on Linux and macOS.
IUTF8: int = getattr(
    termios, "IUTF8", 0o40000 if sys.platform.startswith(("linux", "darwin")) else 0
)

DEFAULT_SIZE = (80, 24)
# The terminal went away (hung up, closed): there is nothing left to restore.
_TERMINAL_GONE = frozenset({errno.EIO, errno.ENXIO, errno.EBADF, errno.ENOTTY})


class NotATerminal(Exception):
    """The file descriptor is not a terminal, so there is no raw mode to enter."""


def raw_attributes(saved: Attributes, *, output_processing: bool = False) -> Attributes:
    """A raw-mode copy of `saved`: what cfmakeraw(3) does, plus IUTF8 as upstream sets it.

    - input: no CR→NL translation (ICRNL), no XON/XOFF flow control (IXON: Ctrl-S and Ctrl-Q
      must reach the remote application), no break or parity handling, 8 bits kept;
    - local: no echo (the server echoes), no line editing (ICANON), no signals from Ctrl-C,
      Ctrl-Z, Ctrl-\\ (ISIG: they are keystrokes for the remote side), no Ctrl-V (IEXTEN);
    - output: post-processing (OPOST, hence ONLCR) is off by default because the display
      positions the cursor itself and writes CR LF explicitly; a "\\n" that the driver turned
      into CR LF would put the cursor where the display does not think it is. Pass
      `output_processing=True` to keep the saved OPOST/ONLCR choices instead;
    - reads return as soon as one byte is there (VMIN 1, VTIME 0).
    """
    attrs = [*saved[:_CC], list(saved[_CC])]
    attrs[_IFLAG] |= IUTF8
    attrs[_IFLAG] &= ~(
        termios.IGNBRK
        | termios.BRKINT
        | termios.PARMRK
        | termios.ISTRIP
        | termios.INLCR
        | termios.IGNCR
        | termios.ICRNL
        | termios.IXON
    )
    if not output_processing:
        attrs[_OFLAG] &= ~termios.OPOST
    attrs[_LFLAG] &= ~(
        termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN
    )
    attrs[_CFLAG] &= ~(termios.CSIZE | termios.PARENB)
    attrs[_CFLAG] |= termios.CS8
    attrs[_CC][termios.VMIN] = 1
    attrs[_CC][termios.VTIME] = 0
    return attrs


def _get_attributes(fd: int) -> Attributes:
    try:
        is_tty = os.isatty(fd)
    except OSError:
        is_tty = False
    if not is_tty:
        raise NotATerminal(f"file descriptor {fd} is not a terminal (mosh needs a terminal)")
    try:
        return termios.tcgetattr(fd)
    except termios.error as exc:
        raise NotATerminal(f"cannot read the settings of terminal fd {fd}: {exc}") from exc


def _set_attributes(fd: int, attrs: Attributes) -> None:
    # TCSANOW, as upstream: don't wait for output to drain, don't throw away typed-ahead keys.
    while True:
        try:
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
            return
        except termios.error as exc:
            if exc.args and exc.args[0] == errno.EINTR:
                continue
            raise


def _stop_process_group() -> None:
    # Upstream stops the whole process group with SIGSTOP: a wrapper in the same group (`mosh`)
    # stops too, so the shell sees the job as stopped, and SIGSTOP cannot be caught or ignored.
    # kill() delivers it before returning, so this returns once we are continued (`fg`).
    os.kill(0, signal.SIGSTOP)


class RawTerminal:
    """Context manager: raw mode on the terminal `fd` (stdin by default) for its block.

    Not re-entrant. Inside the block, `restore()` gives the terminal back in its saved state and
    `reenter()` takes it again (for suspend/resume and SIGCONT); both may be called repeatedly.
    """

    def __init__(self, fd: int = 0, *, output_processing: bool = False) -> None:
        self.fd = fd
        self.output_processing = output_processing
        self._saved: Attributes | None = None
        self._raw: Attributes | None = None
        self._is_raw = False

    @property
    def saved(self) -> Attributes | None:
        """The settings found on entry (None outside the block)."""
        return self._saved

    @property
    def is_raw(self) -> bool:
        """Whether raw mode is in force (set by us and not restored since)."""
        return self._is_raw

    def __enter__(self) -> RawTerminal:
        if self._saved is not None:
            raise RuntimeError("RawTerminal is already in use")
        saved = _get_attributes(self.fd)
        self._saved = saved
        self._raw = raw_attributes(saved, output_processing=self.output_processing)
        _active.add(self)
        # Mark raw before switching: an interrupt right after tcsetattr must still restore.
        self._is_raw = True
        try:
            _set_attributes(self.fd, self._raw)
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()

    def restore(self) -> None:
        """Put the saved settings back (cooked mode for the shell). Idempotent."""
        if not self._is_raw or self._saved is None:
            return
        self._is_raw = False
        try:
            _set_attributes(self.fd, self._saved)
        except termios.error as exc:
            if not (exc.args and exc.args[0] in _TERMINAL_GONE):
                raise

    def reenter(self) -> None:
        """Raw mode again after `restore()` or after being continued (SIGCONT).

        Always applied, even if we think we are raw: whoever ran while we were stopped (the
        shell, another program) may have changed the settings.
        """
        if self._raw is None:
            raise RuntimeError("RawTerminal.reenter() outside its with-block")
        self._is_raw = True
        _set_attributes(self.fd, self._raw)

    def suspend(self, stop: Callable[[], None] = _stop_process_group) -> None:
        """Give the terminal back, stop until continued, then take it again.

        The caller writes its "leave" sequences (alternate screen, modes) before and repaints
        after. `stop` is replaceable for tests; the default stops the process group.
        """
        self.restore()
        try:
            stop()
        finally:
            self.reenter()

    def _close(self) -> None:
        try:
            self.restore()
        finally:
            _active.discard(self)
            self._saved = None
            self._raw = None
            self._is_raw = False


# Terminals in raw mode right now, for the atexit hook. A plain set: an entry leaves it in
# __exit__, and a RawTerminal still in it at exit is exactly the one that must be restored.
_active: set[RawTerminal] = set()


@atexit.register
def _restore_all_at_exit() -> None:
    for terminal in list(_active):
        # If this fails there is nothing more to be done while the interpreter shuts down.
        with contextlib.suppress(termios.error):
            terminal.restore()


def window_size(fd: int = 0) -> tuple[int, int]:
    """(columns, rows) of the terminal `fd`; 80×24 for what a terminal cannot tell us."""
    try:
        packed = fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(8))
    except OSError:
        return DEFAULT_SIZE
    rows, columns, _, _ = struct.unpack("HHHH", packed)
    # A pty nobody has sized reports 0×0; a zero-width screen would be useless.
    return (columns or DEFAULT_SIZE[0], rows or DEFAULT_SIZE[1])
