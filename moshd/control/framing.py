"""Splitting a byte stream into lines, sans I/O: bytes in, complete lines out.

Both ends of the control socket read through it: the daemon's Trio server (request lines) and
the synchronous client of `mosh-server` (the reply line). The length limit is what keeps a
peer that never sends a newline from growing the buffer without bound.
"""

from __future__ import annotations

from moshd.control.errors import ProtocolError

# A request line holds the caller's environment (at most 256 KiB, 6 bytes a character once
# JSON escapes control characters) and the command: 2 MiB, times 64 connections at most.
MAX_LINE_BYTES = 2 * 1024 * 1024
MAX_REPLY_BYTES = 16 * 1024 * 1024  # a `list` of thousands of sessions is still one line


class LineFramer:
    """Buffers received bytes and hands out the lines in them, each without its newline."""

    def __init__(self, max_line_bytes: int, what: str) -> None:
        self._max_line_bytes = max_line_bytes
        self._what = what  # "request" or "reply": what the error message calls a line
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_line(self) -> bytes | None:
        """The next complete line, or None until more bytes arrive.

        Raises ProtocolError once a line is longer than the limit: there is no finding the
        start of the next line after that, so the connection is done for."""
        newline = self._buffer.find(b"\n")
        if newline > self._max_line_bytes or (newline < 0 and len(self) > self._max_line_bytes):
            raise ProtocolError(f"{self._what} longer than {self._max_line_bytes} bytes")
        if newline < 0:
            return None
        line = bytes(self._buffer[:newline])
        del self._buffer[: newline + 1]
        return line

    def take_tail(self) -> bytes:
        """At the end of the stream: the unterminated rest (empty if there is none)."""
        tail, self._buffer = bytes(self._buffer), bytearray()
        return tail

    def __len__(self) -> int:
        """Bytes buffered and not yet handed out."""
        return len(self._buffer)
