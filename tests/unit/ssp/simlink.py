"""A discrete-event simulation of two SSP endpoints joined by an impaired link.

No sockets and no clock: time only moves when the simulation says so, which makes loss,
duplication, reordering and delay reproducible from a seed.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ssp.crypto import Key
from ssp.datagram import HEADER_BYTES
from ssp.key import KEY_BYTES
from ssp.screen import DEFAULT_RENDITION, Framebuffer, Row
from ssp.timing import UPSTREAM_TIMERS, Timers
from ssp.transport import Endpoint, Event
from ssp.userstream import Keystroke, UserEvent, UserStream

SERVER_ADDR = ("10.0.0.1", 60001)  # opaque labels: nothing is ever sent anywhere
CLIENT_ADDR = ("10.0.0.2", 40000)


@dataclass
class LinkProfile:
    loss: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.05  # one way, seconds
    jitter: float = 0.0  # uniform extra delay, which also reorders


@dataclass(order=True)
class _Delivery:
    at: float
    order: int
    to_server: bool = field(compare=False)
    data: bytes = field(compare=False)
    source: object = field(compare=False)


class SimulatedSession:
    """A client typing into a server that echoes what it receives onto its screen."""

    def __init__(
        self,
        seed: int,
        up: LinkProfile,
        down: LinkProfile,
        start: float = 1000.0,
        key: Key | None = None,
        timers: Timers = UPSTREAM_TIMERS,
    ) -> None:
        self.rng = random.Random(seed)  # the link's loss, duplication and delay
        # The endpoints' random bytes (key, nonce epochs, chaff) come from a stream of their
        # own, seeded alike: then the same seed replays the same datagrams byte for byte, and
        # drawing them does not shift the link's decisions.
        entropy_rng = random.Random(f"{seed}/entropy")
        self.up, self.down = up, down
        self.now = start
        self.key = key or Key(entropy_rng.randbytes(KEY_BYTES))
        self.server: Endpoint[Framebuffer, UserStream] = Endpoint(
            self.key,
            "server",
            Framebuffer(width=40, height=6),
            UserStream(),
            start,
            entropy=entropy_rng.randbytes,
            timers=timers,
        )
        self.client: Endpoint[UserStream, Framebuffer] = Endpoint(
            self.key,
            "client",
            UserStream(),
            Framebuffer(width=40, height=6),
            start,
            SERVER_ADDR,
            entropy=entropy_rng.randbytes,
            timers=timers,
        )
        self.client_addr: object = CLIENT_ADDR
        self.typed: list[UserEvent] = []
        self.received: list[UserEvent] = []
        self.consumed = 0
        self.sent_datagrams: list[bytes] = []
        self.server_events: list[Event] = []
        self.client_events: list[Event] = []
        self._queue: list[_Delivery] = []
        self._order = itertools.count()
        self.on_server_input: Callable[[list[UserEvent]], None] = self._echo_to_screen
        self.on_client_screen: Callable[[Framebuffer], None] = lambda screen: None

    # --- the applications ----------------------------------------------------------------------
    def type(self, data: bytes) -> None:
        stream = self.client.local_state.copy()
        stream.push_keystroke(data)
        self.typed.append(Keystroke(data))
        self.client.set_local_state(stream, self.now)

    def _echo_to_screen(self, events: list[UserEvent]) -> None:
        text = b"".join(e.data for e in events if isinstance(e, Keystroke)).decode()
        screen = self.server.local_state.copy()
        line = (screen.rows[-1].text.rstrip() + text)[-screen.width :]
        screen.rows[-1] = Row(tuple(line.ljust(screen.width)), (DEFAULT_RENDITION,) * screen.width)
        screen.cursor_col = min(len(line), screen.width - 1)
        screen.echo_ack = self.server.echo_ack(self.now)
        self.server.set_local_state(screen, self.now)

    def _server_consumes(self) -> None:
        new = self.server.remote_state.events_since(self.consumed)
        if new:
            self.consumed += len(new)
            self.received += new
            self.server.forget_consumed_remote()
            self.on_server_input(new)

    @property
    def sent_headers(self) -> list[bytes]:
        """The clear header of every datagram sent, in order (a redundant copy included)."""
        return [data[:HEADER_BYTES] for data in self.sent_datagrams]

    # --- the link ------------------------------------------------------------------------------
    def _transmit(self, data: bytes, to_server: bool) -> None:
        self.sent_datagrams.append(data)
        profile = self.up if to_server else self.down
        copies = 0 if self.rng.random() < profile.loss else 1
        if copies and self.rng.random() < profile.duplicate:
            copies = 2
        for _ in range(copies):
            at = self.now + profile.delay + self.rng.random() * profile.jitter
            source = self.client_addr if to_server else SERVER_ADDR
            heapq.heappush(self._queue, _Delivery(at, next(self._order), to_server, data, source))

    def _flush(self) -> None:
        for data, _ in self.client.datagrams_to_send(self.now):
            self._transmit(data, to_server=True)
        self.client_events += self.client.take_events()
        for data, _ in self.server.datagrams_to_send(self.now):
            self._transmit(data, to_server=False)
        self.server_events += self.server.take_events()

    def run_until(self, end: float) -> None:
        while True:
            self._flush()
            upcoming = min(
                self.client.next_deadline(),
                self.server.next_deadline(),
                self._queue[0].at if self._queue else float("inf"),
            )
            if upcoming <= self.now and not (self._queue and self._queue[0].at <= self.now):
                upcoming = self.now + 0.001  # a deadline that sent nothing: step past it
            if upcoming > end:
                self.now = end  # nothing is due before `end`: an event loop would sleep on
                return
            self.now = max(self.now, upcoming)
            while self._queue and self._queue[0].at <= self.now:
                d = heapq.heappop(self._queue)
                if d.to_server:
                    self.server_events += self.server.receive_datagram(d.data, d.source, self.now)
                    self._server_consumes()
                else:
                    events = self.client.receive_datagram(d.data, d.source, self.now)
                    self.client_events += events
                    if events:
                        self.on_client_screen(self.client.remote_state)
