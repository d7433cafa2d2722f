"""A client's hold on a session: a key, the `ssp.Endpoint` it keys, and the datagrams routed
to it (moshd.session replaces it on `attach`).

An attachment speaks its session's `Protocol`: native, or upstream's protocol 2 for stock
clients (a `Proto2Key`, `Proto2Wire`, a `HostScreen` as the local state, arrows rewritten by
`CursorKeys`, and a route by address and trial instead of a connection id: moshd.routing).
`make_attachment` is the one place keys and endpoints are made, for either protocol, and
`say_goodbye` is the bounded goodbye of one that was taken over.
"""

from __future__ import annotations

import collections
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
import trio

from moshd.logging import format_peer
from moshd.routing import StockRoute
from moshd.udp import UdpPort
from ssp.crypto import Key
from ssp.datagram import Packet
from ssp.key import SecretKey
from ssp.lifecycle import Closed, Phase
from ssp.proto2.hostscreen import CursorKeys, HostScreen
from ssp.proto2.key import Proto2Key
from ssp.proto2.userstream import Proto2UserStream
from ssp.proto2.wire import Proto2Wire
from ssp.screen import Framebuffer
from ssp.timing import Timers
from ssp.transport import Endpoint, Event
from ssp.userstream import UserStream

# A live client sends at least a heartbeat every 3 s (ACK_INTERVAL): silent for longer than
# this, its session is detached, and `mosh-server attach` without an id may take it.
DETACHED_AFTER = 10.0


class Protocol(enum.StrEnum):
    """The protocol a session's clients speak; it decides the form of an attachment's key."""

    NATIVE = "native"  # this project's SSP: 32-byte keys, 43 characters of base64
    # Upstream mosh's protocol 2, for stock clients: 16-byte keys, 22 characters; the screen
    # goes as escape sequences (ssp.proto2.hostscreen), arrows are rewritten as upstream's
    # server does, and datagrams are routed without a connection id (moshd.routing).
    PROTO2 = "proto2"


class Wakeup:
    """A level-triggered flag the network loop sleeps on."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait_until(self, deadline: float) -> None:
        with trio.move_on_at(deadline):
            await self._event.wait()
        self._event = trio.Event()


@dataclass(eq=False)
class Attachment:
    """One client's hold on the session: its key, its endpoint, the datagrams routed to it."""

    key: SecretKey
    # Local state: a Framebuffer (native) or a HostScreen (protocol 2); see `show`.
    endpoint: Endpoint[Any, UserStream]
    attached_at: float  # the session's clock
    protocol: Protocol = Protocol.NATIVE
    # When its client's datagrams started coming without a gap of DETACHED_AFTER (clock)
    contact_since: float | None = None
    # Raw datagrams (native) or datagrams the router already opened (protocol 2)
    inbox: collections.deque[tuple[bytes | Packet, tuple[object, ...]]] = field(
        default_factory=collections.deque
    )
    wakeup: Wakeup = field(default_factory=lambda: Wakeup())
    stock_route: StockRoute | None = None  # protocol 2: its route (no connection id)
    cursor_keys: CursorKeys | None = None  # protocol 2: upstream's rewriting of arrows

    @property
    def connection_id(self) -> int:
        return self.endpoint.connection_id

    def show(self, screen: Framebuffer, now: float) -> None:
        """Make `screen` (a fresh snapshot, which this takes over) the state synced to the
        client."""
        if self.protocol is Protocol.PROTO2:
            self.endpoint.set_local_state(HostScreen.of(screen), now)
        else:
            self.endpoint.set_local_state(screen, now)

    def receive(self, item: bytes | Packet, addr: tuple[object, ...], now: float) -> list[Event]:
        if isinstance(item, Packet):
            return self.endpoint.receive_packet(item, addr, now)
        return self.endpoint.receive_datagram(item, addr, now)


Deliver = Callable[["Attachment", bytes | Packet, tuple[object, ...]], None]


def make_attachment(
    protocol: Protocol,
    now: float,
    timers: Timers,
    initial_frame: Framebuffer,
    deliver: Deliver,
) -> Attachment:
    """A fresh key and the endpoint it keys. `initial_frame` is native state 0, the one both
    ends start from without telling each other; the first frame carries the rest, so a client
    attaching to a running session gets the whole screen at once. `deliver` queues a datagram
    the router opened for a protocol-2 attachment (a native one is routed by the session)."""
    if protocol is Protocol.PROTO2:
        # State 0 is unknown here: a stock client starts blank at its own window's size, so
        # the first frame resizes and repaints (ssp.proto2.hostscreen).
        proto2_key = Proto2Key.generate()
        stock: Endpoint[HostScreen, UserStream] = Endpoint(
            proto2_key,
            "server",
            HostScreen(),
            Proto2UserStream(),
            now,
            timers=timers,
            wire=Proto2Wire,
        )
        attachment = Attachment(proto2_key, stock, now, protocol, cursor_keys=CursorKeys())
        attachment.stock_route = StockRoute(
            open=stock.wire.open,
            deliver=lambda packet, addr: deliver(attachment, packet, addr),
            last_heard=lambda: stock.last_heard,
        )
        return attachment
    key = Key.generate()
    endpoint: Endpoint[Framebuffer, UserStream] = Endpoint(
        key, "server", initial_frame, UserStream(), now, timers=timers
    )
    return Attachment(key, endpoint, now)


async def say_goodbye(
    old: Attachment,
    udp: UdpPort,
    clock: Callable[[], float],
    log: structlog.stdlib.BoundLogger,
) -> None:
    """A taken-over attachment's goodbye (its last screen already says why), bounded as any
    session end's is. Its input is never read: only the handshake is answered."""
    endpoint = old.endpoint
    while True:
        now = clock()
        while old.inbox:
            data, addr = old.inbox.popleft()
            old.receive(data, addr, now)
        for datagram, destination in endpoint.datagrams_to_send(now):
            await udp.send(datagram, destination)
        for event in endpoint.take_events():
            if isinstance(event, Closed):
                log.info(
                    "session.taken_over_client_released",
                    peer=format_peer(endpoint.peer),
                    goodbye=str(event.ending),
                )
        if endpoint.phase is Phase.CLOSED:
            return
        await old.wakeup.wait_until(endpoint.next_deadline())
