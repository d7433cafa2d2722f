"""UDP port ranges: `PORT` or `LOW:HIGH`, as `mosh-server -p`, `moshd --port` and a `new`
request spell them.

Its own module so that the UDP layer and the command lines can name a port range without
importing the control protocol. MAX_PORT and the grammar are `ssp.ports`' (the client's `-p`
shares them); the limits and the messages here are the server's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ssp.ports import MAX_PORT, port_number, split_port_range


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
    if text == "0":
        return PortRange(0, 0)  # as upstream: any free port the system picks
    parts = split_port_range(text)  # the grammar is ssp.ports'; the rest names the culprit
    low_text, _, high_text = text.partition(":")
    low = port_number(low_text) if parts is None else parts[0]
    if low is None:
        raise PortSpecError(f"bad port {text!r}: {low_text!r} is not a number")
    _check_port_number(low, text)
    if parts is None:
        raise PortSpecError(f"bad port {text!r}: {high_text!r} is not a number")
    high = low if parts[1] is None else _check_port_number(parts[1], text)
    if low > high:
        raise PortSpecError(f"bad port range {text!r}: {low} is greater than {high}")
    return PortRange(low, high)


def _check_port_number(number: int, whole: str) -> int:
    if not 1 <= number <= MAX_PORT:
        raise PortSpecError(f"bad port {whole!r}: {number} is outside 1..{MAX_PORT}")
    return number
