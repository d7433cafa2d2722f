"""Two protocol-2 endpoints over an in-memory lossy link: keystrokes arrive exactly once and
in order, echoes come back, and a goodbye is acknowledged; and the receive path shrugs off
replays, reflections and garbage as the native one does."""

from __future__ import annotations

import heapq
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssp.crypto import AuthenticationFailed
from ssp.datagram import Fragmenter, Instruction, Packet
from ssp.lifecycle import Closed, Ending
from ssp.proto2.key import Proto2Key
from ssp.proto2.messages import HostBytes
from ssp.proto2.userstream import Proto2UserStream
from ssp.proto2.wire import Proto2Wire
from ssp.transport import Endpoint, Event, RemoteStateChanged, ShutdownRequested
from ssp.userstream import Keystroke

from .hostlog import HostLog

SERVER_ADDR = ("10.0.0.1", 60001)  # opaque labels: nothing is ever sent anywhere
CLIENT_ADDR = ("10.0.0.2", 40000)
ATTACKER_ADDR = ("203.0.113.9", 666)


class Link:
    """A client typing into a server that echoes each keystroke as a host string."""

    def __init__(self, seed: int, loss: float, delay: float = 0.03) -> None:
        self.rng = random.Random(seed)
        entropy = random.Random(f"{seed}/entropy").randbytes
        self.loss, self.delay = loss, delay
        self.now = 1000.0
        self.key = Proto2Key(entropy(16))
        self.server: Endpoint[HostLog, Proto2UserStream] = Endpoint(
            self.key,
            "server",
            HostLog(),
            Proto2UserStream(),
            self.now,
            entropy=entropy,
            wire=Proto2Wire,
        )
        self.client: Endpoint[Proto2UserStream, HostLog] = Endpoint(
            self.key,
            "client",
            Proto2UserStream(),
            HostLog(),
            self.now,
            peer=SERVER_ADDR,
            entropy=entropy,
            wire=Proto2Wire,
        )
        self._queue: list[tuple[float, int, bool, bytes]] = []
        self._order = itertools.count()
        self.consumed = 0  # user-stream events the server application has taken
        self.delivered: list[bytes] = []  # keystrokes, as the server application saw them
        self.client_events: list[Event] = []
        self.server_events: list[Event] = []
        self.sent_to_server: list[bytes] = []
        self.sent_to_client: list[bytes] = []

    def type(self, keys: bytes) -> None:
        self.client.local_state.push_keystroke(keys)
        self.client.local_state_changed(self.now)

    def _send(self) -> None:
        for ep, to_server in ((self.client, True), (self.server, False)):
            for data, addr in ep.datagrams_to_send(self.now):
                assert addr == (SERVER_ADDR if to_server else CLIENT_ADDR)
                assert len(data) <= 1232  # the endpoint's datagram size
                (self.sent_to_server if to_server else self.sent_to_client).append(data)
                if self.rng.random() >= self.loss:
                    at = self.now + self.delay * (1 + self.rng.random())  # reorders a bit
                    heapq.heappush(self._queue, (at, next(self._order), to_server, data))
            (self.client_events if to_server else self.server_events).extend(ep.take_events())

    def _server_application(self) -> None:
        """Take new keystrokes once each, echo them to the screen."""
        stream = self.server.remote_state
        fresh = stream.events_since(self.consumed)
        if not fresh:
            return
        self.consumed = stream.total
        screen = self.server.local_state.copy()
        for event in fresh:
            assert isinstance(event, Keystroke)
            self.delivered.append(event.data)
            screen.items.append(HostBytes(event.data))
        self.server.set_local_state(screen, self.now)

    def run(self, seconds: float) -> None:
        end = self.now + seconds
        while True:
            self._send()
            deadline = min(self.client.next_deadline(), self.server.next_deadline(), end)
            if self._queue:
                deadline = min(deadline, self._queue[0][0])
            if deadline >= end and not (self._queue and self._queue[0][0] <= end):
                self.now = end
                self._send()
                return
            self.now = max(self.now, deadline)
            while self._queue and self._queue[0][0] <= self.now:
                _, _, to_server, data = heapq.heappop(self._queue)
                if to_server:
                    self.server_events += self.server.receive_datagram(data, CLIENT_ADDR, self.now)
                    self._server_application()
                else:
                    self.client_events += self.client.receive_datagram(data, SERVER_ADDR, self.now)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("loss", [0.0, 0.25])
def test_keystrokes_arrive_exactly_once_in_order_and_shutdown_is_acknowledged(
    seed: int, loss: float
) -> None:
    link = Link(seed, loss)
    typed = [b"k%02d" % n for n in range(40)]
    for keys in typed:
        link.type(keys)
        link.run(link.rng.choice([0.0, 0.01, 0.2]))
    link.run(20.0)
    # once each, in order, despite loss and reordering (a byte per event, as upstream's)
    assert b"".join(link.delivered) == b"".join(typed)
    assert link.client.remote_state.screen_bytes == b"".join(typed)  # the echoes came back

    # The goodbye on a healed link: the server ends once it has sent its acknowledgment, so
    # on a lossy one the client may give up instead, by design (and as upstream does).
    link.loss = 0.0
    link.client.start_shutdown(link.now)
    link.run(30.0)
    assert [e for e in link.client_events if isinstance(e, Closed)] == [Closed(Ending.ACKNOWLEDGED)]
    assert any(isinstance(e, ShutdownRequested) for e in link.server_events)
    assert [e for e in link.server_events if isinstance(e, Closed)] == [Closed(Ending.PEER_CLOSED)]


def test_replays_and_reflections_are_dropped() -> None:
    link = Link(seed=1, loss=0.0)
    link.type(b"once")
    link.run(2.0)
    assert b"".join(link.delivered) == b"once"
    server = link.server
    for data in link.sent_to_server:  # replayed from anywhere: no effect, no roaming
        assert server.receive_datagram(data, ATTACKER_ADDR, link.now) == []
    assert server.drops.replayed == len(link.sent_to_server)
    assert server.peer == CLIENT_ADDR
    for data in link.sent_to_client:  # the server's own datagrams, reflected back to it
        assert server.receive_datagram(data, ATTACKER_ADDR, link.now) == []
    assert server.drops.wrong_direction == len(link.sent_to_client)
    link.run(2.0)
    assert b"".join(link.delivered) == b"once"


@settings(max_examples=200)
@given(st.binary(max_size=120))
def test_garbage_never_raises_and_changes_nothing(data: bytes) -> None:
    link = Link(seed=2, loss=0.0)
    server = link.server
    assert server.receive_datagram(data, ATTACKER_ADDR, link.now) == []
    assert server.peer is None and server.last_heard is None
    assert server.drops.total == 1


def test_a_protocol_version_other_than_2_is_dropped() -> None:
    link = Link(seed=3, loss=0.0)
    wire = Proto2Wire(link.key)

    def version_1(inst: Instruction) -> bytes:
        return b"\x08\x01" + wire.encode_instruction(inst)[2:]  # the version field is first

    diff = Proto2UserStream()
    diff.push_keystroke(b"x")
    (fragment,) = Fragmenter(version_1).fragments(
        Instruction(0, 1, 0, 0, diff.diff_from(Proto2UserStream())), 1000
    )
    datagram = wire.seal(Packet(0, 0, 0, 1, 0xFFFF, fragment))
    link.server.receive_datagram(datagram, CLIENT_ADDR, link.now)
    assert link.server.drops.malformed == 1 and link.server.remote_state_num == 0


def test_a_datagram_opened_by_trial_is_received_without_opening_it_again() -> None:
    # A server port holding several stock sessions finds a datagram's by trying their keys.
    link = Link(seed=4, loss=0.0)
    link.type(b"z")
    ((data, _),) = link.client.datagrams_to_send(link.now + 0.1)
    other = Link(seed=5, loss=0.0).server
    with pytest.raises(AuthenticationFailed):
        other.wire.open(data)
    packet = link.server.wire.open(data)
    events = link.server.receive_packet(packet, CLIENT_ADDR, link.now + 0.1)
    assert RemoteStateChanged(1) in events and link.server.peer == CLIENT_ADDR
    assert link.server.remote_state.events_since(0) == [Keystroke(b"z")]
