"""How a connection ends, in one place: the phases of the shutdown handshake and the ways out.

    OPEN ──start_shutdown──▶ CLOSING ──peer acks──────────────▶ CLOSED (acknowledged)
      │                         ├──16 tries or the time limit──▶ CLOSED (gave_up)
      │                         └──nobody to tell──────────────▶ CLOSED (unreachable)
      └──peer's goodbye──▶ PEER_CLOSING ──our ack sent────────▶ CLOSED (peer_closed)

The endpoint moves through these phases as datagrams come and go and reports the end once, as
a `Closed` event; the daemon's sessions and the client both act on that event alone. "Nobody
to tell" is a server whose client never appeared or has been silent past the association
timeout, or a client that never heard from its server: a goodbye would only wait out its time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Phase(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"  # we said goodbye and wait for the peer's acknowledgment
    PEER_CLOSING = "peer_closing"  # the peer said goodbye; our acknowledgment is on its way
    CLOSED = "closed"


class Ending(enum.StrEnum):
    ACKNOWLEDGED = "acknowledged"  # our goodbye was acknowledged
    PEER_CLOSED = "peer_closed"  # the peer said goodbye, and we acknowledged it
    GAVE_UP = "gave_up"  # our goodbye went unanswered
    UNREACHABLE = "unreachable"  # there was nobody to say goodbye to

    @property
    def clean(self) -> bool:
        """Both sides know the connection is over."""
        return self in (Ending.ACKNOWLEDGED, Ending.PEER_CLOSED)


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection is over; nothing more will be sent or accepted."""

    ending: Ending
