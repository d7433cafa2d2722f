"""UDP port ranges: `PORT` or `LOW:HIGH`, as `mosh-server -p`, `moshd --port` and a `new`
request spell them.

Its own module so that the UDP layer and the command lines can name a port range without
importing the control protocol.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PORT = 65535


class PortSpecError(ValueError):
    """A port or port range is not well formed; the message says how."""


@dataclass(frozen=True)
class PortRange:
    """`-p PORT` (low == high) or `-p LOW:HIGH`."""

    low: int
    high: int

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}:{self.high}"


def parse_port_spec(text: str) -> PortRange:
    """Parse "PORT" or "PORT:PORT2" (1..65535, PORT <= PORT2), raising PortSpecError."""
    low_text, colon, high_text = text.partition(":")
    if text == "0":
        return PortRange(0, 0)  # as upstream: any free port the system picks
    low = _parse_port_number(low_text, text)
    high = _parse_port_number(high_text, text) if colon else low
    if low > high:
        raise PortSpecError(f"bad port range {text!r}: {low} is greater than {high}")
    return PortRange(low, high)


def _parse_port_number(part: str, whole: str) -> int:
    if not part.isascii() or not part.isdigit():
        raise PortSpecError(f"bad port {whole!r}: {part!r} is not a number")
    number = int(part)
    if not 1 <= number <= MAX_PORT:
        raise PortSpecError(f"bad port {whole!r}: {number} is outside 1..{MAX_PORT}")
    return number
