"""The receive path against hostile input, and the roaming rule.

"Any byte string given to the receive path — random, truncated, bit-flipped, replayed, sealed
under another key — is dropped without raising and changes no state; only an authentic datagram
newer than all before it moves the peer address (the roaming rule), and that is reported as an
event."
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssp.crypto import Cipher, Key
from ssp.datagram import (
    HEADER_BYTES,
    NO_TIMESTAMP,
    SEQ_MASK,
    TO_CLIENT,
    TO_SERVER,
    Fragmenter,
    Instruction,
    Packet,
    open_packet,
    seal_packet,
    timestamp16,
)
from ssp.screen import DEFAULT_RENDITION, Framebuffer, Row
from ssp.timing import SERVER_ASSOCIATION_TIMEOUT
from ssp.transport import (
    Address,
    Endpoint,
    Event,
    PeerAddressChanged,
    RemoteStateChanged,
)
from ssp.userstream import Keystroke, UserStream

SERVER_ADDR = ("192.0.2.1", 60001)  # documentation addresses: opaque labels only
CLIENT_ADDR = ("198.51.100.7", 40000)
ROAMED_ADDR = ("203.0.113.9", 51000)
OTHER_ADDR = ("203.0.113.66", 52000)
ATTACKER_ADDR = ("198.51.100.66", 6666)

Side = Literal["server", "client"]
AnyEndpoint = Endpoint[Any, Any]


@dataclass(order=True)
class _InFlight:
    at: float
    order: int
    to_server: bool = field(compare=False)
    data: bytes = field(compare=False)
    source: Address = field(compare=False)


class Link:
    """A client and a server joined by a lossless link with a fixed delay, recording every
    datagram each side received. The server echoes keystrokes onto row 0 of its screen."""

    def __init__(self, delay: float = 0.02, start: float = 1000.0) -> None:
        self.key = Key.generate()
        self.now = start
        self.delay = delay
        self.server: Endpoint[Framebuffer, UserStream] = Endpoint(
            self.key, "server", Framebuffer(), UserStream(), start
        )
        self.client: Endpoint[UserStream, Framebuffer] = Endpoint(
            self.key, "client", UserStream(), Framebuffer(), start, peer=SERVER_ADDR
        )
        self.client_addr: Address = CLIENT_ADDR
        self.deliver_to_server = True  # False: the uplink silently loses everything
        self.received_by_server: list[bytes] = []
        self.received_by_client: list[bytes] = []
        self.server_destinations: list[Address] = []
        self.server_events: list[Event] = []
        self.client_events: list[Event] = []
        self.echoed = ""
        self._consumed = 0
        self._queue: list[_InFlight] = []
        self._order = itertools.count()

    def endpoint(self, side: Side) -> AnyEndpoint:
        return self.server if side == "server" else self.client

    def received(self, side: Side) -> list[bytes]:
        return self.received_by_server if side == "server" else self.received_by_client

    def sent_by(self, side: Side) -> list[bytes]:
        return self.received_by_client if side == "server" else self.received_by_server

    def type(self, data: bytes) -> None:
        stream = self.client.local_state.copy()
        stream.push_keystroke(data)
        self.client.set_local_state(stream, self.now)

    def server_consumes(self) -> None:
        new = self.server.remote_state.events_since(self._consumed)
        if not new:
            return
        self._consumed += len(new)
        self.server.forget_consumed_remote()
        self.echoed += b"".join(e.data for e in new if isinstance(e, Keystroke)).decode()
        screen = self.server.local_state.copy()
        screen.rows[0] = Row(tuple(self.echoed.ljust(80)[:80]), (DEFAULT_RENDITION,) * 80)
        screen.cursor_col = min(len(self.echoed), 79)
        screen.echo_ack = self.server.echo_ack(self.now)
        self.server.set_local_state(screen, self.now)

    def flush(self) -> None:
        for data, addr in self.client.datagrams_to_send(self.now):
            assert addr == SERVER_ADDR
            if self.deliver_to_server:
                self._push(True, data, self.client_addr)
        for data, addr in self.server.datagrams_to_send(self.now):
            self.server_destinations.append(addr)
            if addr == self.client_addr:
                self._push(False, data, SERVER_ADDR)

    def _push(self, to_server: bool, data: bytes, source: Address) -> None:
        item = _InFlight(self.now + self.delay, next(self._order), to_server, data, source)
        heapq.heappush(self._queue, item)

    def run(self, duration: float, step: float = 0.002) -> None:
        end = self.now + duration
        while self.now < end:
            self.now = min(end, self.now + step)
            while self._queue and self._queue[0].at <= self.now:
                item = heapq.heappop(self._queue)
                if item.to_server:
                    self.received_by_server.append(item.data)
                    events = self.server.receive_datagram(item.data, item.source, self.now)
                    self.server_events += events
                    self.server_consumes()
                else:
                    self.received_by_client.append(item.data)
                    self.client_events += self.client.receive_datagram(
                        item.data, item.source, self.now
                    )
            self.flush()


def synced_link() -> Link:
    link = Link()
    link.type(b"ls")
    link.run(0.5)
    link.type(b" -l")
    link.run(0.5)
    screen = link.server.local_state.copy()
    screen.title = "user@host: ~"
    link.server.set_local_state(screen, link.now)
    link.run(4.0)  # past a heartbeat, so both sides have several states
    assert link.echoed == "ls -l"
    assert link.server.remote_state.total == 2
    assert link.client.remote_state == link.server.local_state
    assert link.server.remote_state_num > 0 and link.client.remote_state_num > 0
    assert link.client.rtt.sampled and link.server.rtt.sampled
    assert link.server.peer == CLIENT_ADDR
    return link


@pytest.fixture(scope="module")
def link() -> Link:
    """Shared by the tests that must not change it: garbage changes nothing."""
    return synced_link()


def fingerprint(ep: AnyEndpoint) -> dict[str, object]:
    """Everything observable about an endpoint except `drops`."""
    sender = ep._sender
    return {
        "remote_state_num": ep.remote_state_num,
        "remote_state": ep.remote_state.copy(),  # compared with ==
        "remote_state_total": getattr(ep.remote_state, "total", None),
        "peer": ep.peer,
        "last_heard": ep.last_heard,
        "last_roundtrip_success": ep.last_roundtrip_success,
        "srtt": ep.rtt.srtt_ms,
        "rttvar": ep.rtt.rttvar_ms,
        "last_sent_num": ep.last_sent_num,
        "next_deadline": ep.next_deadline(),
        "shutdown": (ep.shutdown_in_progress, ep.shutdown_acknowledged()),
        "local_state": ep.local_state.copy(),
        # No public attribute carries these; they decide what the next datagram says.
        "ack_num": sender.ack_num,
        "sent_nums": [s.num for s in sender.sent],
        "pending_data_ack": sender.pending_data_ack,
        "received_nums": [r.num for r in ep._received],
        "peer_runs": [(e, r.expected, r._seen) for e, r in ep._peer_runs.items()],
        "saved_timestamp": (ep._saved_timestamp, ep._saved_timestamp_at),
    }


def assert_dropped(
    ep: AnyEndpoint, data: bytes, addr: Address = ATTACKER_ADDR, now: float | None = None
) -> None:
    """Feed `data`: it must be dropped, counted, and change nothing."""
    before = fingerprint(ep)
    drops_before = ep.drops.total
    when = now if now is not None else (ep.last_heard or 0.0) + 0.5
    events = ep.receive_datagram(data, addr, when)
    assert events == []
    assert fingerprint(ep) == before
    assert ep.drops.total == drops_before + 1


def _seq(data: bytes) -> int:
    return int.from_bytes(data[HEADER_BYTES - 8 : HEADER_BYTES], "big") & SEQ_MASK


sides = pytest.mark.parametrize("side", ["server", "client"])
module_settings = settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# --- garbage --------------------------------------------------------------------------------
@sides
@module_settings
@given(
    garbage=st.one_of(st.binary(max_size=80), st.binary(min_size=HEADER_BYTES + 20, max_size=1500))
)
def test_random_bytes_are_dropped(link: Link, side: Side, garbage: bytes) -> None:
    ep = link.endpoint(side)
    unauthentic = ep.drops.unauthentic
    malformed = ep.drops.malformed
    assert_dropped(ep, garbage)
    assert ep.drops.unauthentic + ep.drops.malformed == unauthentic + malformed + 1


@sides
@module_settings
@given(tail=st.binary(min_size=20, max_size=200))
def test_random_bytes_behind_the_right_connection_id_are_dropped(
    link: Link, side: Side, tail: bytes
) -> None:
    ep = link.endpoint(side)
    assert_dropped(ep, ep.connection_id.to_bytes(8, "big") + tail)


@sides
def test_every_truncation_of_real_datagrams_is_dropped(link: Link, side: Side) -> None:
    ep = link.endpoint(side)
    received = link.received(side)
    longest = max(received, key=len)
    for data in (received[0], received[-1], longest):
        for cut in range(len(data)):
            assert_dropped(ep, data[:cut])
        assert_dropped(ep, data + b"\x00")  # extended is as bad as truncated


@sides
@module_settings
@given(choice=st.data())
def test_bit_flips_are_dropped(link: Link, side: Side, choice: st.DataObject) -> None:
    ep = link.endpoint(side)
    received = link.received(side)
    original = received[choice.draw(st.integers(0, len(received) - 1), label="datagram")]
    bits = choice.draw(
        st.sets(st.integers(0, len(original) * 8 - 1), min_size=1, max_size=3), label="bits"
    )
    flipped = bytearray(original)
    for bit in bits:
        flipped[bit // 8] ^= 0x80 >> (bit % 8)
    assert_dropped(ep, bytes(flipped))


@sides
def test_exact_replays_are_dropped(link: Link, side: Side) -> None:
    ep = link.endpoint(side)
    received = link.received(side)
    assert len(received) >= 3
    replayed = ep.drops.replayed
    for data in received:
        assert_dropped(ep, data)  # from the attacker's address
    for data in reversed(received):
        assert_dropped(ep, data, addr=ROAMED_ADDR)  # not even a roam
    assert ep.drops.replayed == replayed + 2 * len(received)


@sides
def test_a_replayed_datagram_is_dropped_even_much_later(link: Link, side: Side) -> None:
    ep = link.endpoint(side)
    newest = link.received(side)[-1]
    assert_dropped(ep, newest, addr=ROAMED_ADDR, now=(ep.last_heard or 0.0) + 3600.0)


def _forged(victim: AnyEndpoint, direction: int, connection_id: int, key: Key) -> list[bytes]:
    """Well-formed datagrams with a plausible instruction, far ahead in sequence."""
    inst = Instruction(
        old_num=0, new_num=victim.remote_state_num + 5, ack_num=0, throwaway_num=0, diff=b""
    )
    (fragment,) = Fragmenter().fragments(inst, 1000)
    return [
        seal_packet(
            Cipher(key),
            Packet(connection_id, direction, seq, timestamp16(5.0), NO_TIMESTAMP, fragment),
        )
        for seq in (0, 10**6, SEQ_MASK)
    ]


@sides
def test_datagrams_sealed_under_another_key_are_dropped(link: Link, side: Side) -> None:
    ep = link.endpoint(side)
    direction = TO_SERVER if side == "server" else TO_CLIENT
    other = Key.generate()
    unauthentic = ep.drops.unauthentic
    victims = _forged(ep, direction, ep.connection_id, other)  # the victim's connection id
    assert all(d[:8] == ep.connection_id.to_bytes(8, "big") for d in victims)
    forged = victims + _forged(ep, direction, other.connection_id(), other)  # another session's
    for data in forged:
        assert_dropped(ep, data, addr=ROAMED_ADDR)
    assert ep.drops.unauthentic == unauthentic + len(forged)


@sides
def test_authentic_datagram_of_another_connection_id_is_dropped(link: Link, side: Side) -> None:
    ep = link.endpoint(side)
    direction = TO_SERVER if side == "server" else TO_CLIENT
    for data in _forged(ep, direction, ep.connection_id ^ 1, link.key):
        assert_dropped(ep, data, addr=ROAMED_ADDR)


@sides
def test_own_datagrams_reflected_back_are_dropped(link: Link, side: Side) -> None:
    ep = link.endpoint(side)
    own = link.sent_by(side)
    assert own
    wrong_direction = ep.drops.wrong_direction
    for data in own:
        peer_side_addr = SERVER_ADDR if side == "client" else CLIENT_ADDR
        assert_dropped(ep, data, addr=peer_side_addr)
    # Reflected with a sequence number newer than anything the peer sent: still nothing.
    direction = TO_CLIENT if side == "server" else TO_SERVER
    for data in _forged(ep, direction, ep.connection_id, link.key):
        assert_dropped(ep, data, addr=ROAMED_ADDR)
    assert ep.drops.wrong_direction == wrong_direction + len(own) + 3


def test_the_endpoints_still_work_after_all_that_garbage(link: Link) -> None:
    # Runs after the garbage tests above on the same endpoints (module fixture).
    assert link.server.drops.total > 0 and link.client.drops.total > 0
    link.type(b"!")
    link.run(1.0)
    assert link.echoed == "ls -l!"
    assert link.client.remote_state == link.server.local_state
    assert link.client.remote_state.rows[0].text.startswith("ls -l!")


# --- the roaming rule -----------------------------------------------------------------------
def _collect_client_datagrams(link: Link, data: bytes) -> list[bytes]:
    """Type `data` and catch what the client sends for it, without delivering it."""
    link.type(data)
    caught: list[bytes] = []
    for _ in range(500):
        link.now += 0.002
        caught += [d for d, _ in link.client.datagrams_to_send(link.now)]
        if caught:
            return caught
    raise AssertionError("the client sent nothing")


def test_first_contact_sets_the_peer_and_is_reported() -> None:
    link = Link()
    assert link.server.peer is None
    assert link.server.datagrams_to_send(link.now) == []
    assert link.server.next_deadline() == float("inf")  # no one to talk to yet: no timer
    link.type(b"x")
    link.run(0.2)
    assert link.server_events[0] == PeerAddressChanged(None, CLIENT_ADDR)
    assert sum(isinstance(e, PeerAddressChanged) for e in link.server_events) == 1
    assert link.server.peer == CLIENT_ADDR


def test_newer_datagram_from_a_new_address_moves_the_server_peer() -> None:
    link = synced_link()
    link.client_addr = ROAMED_ADDR  # the client's NAT mapping changed
    link.server_events.clear()
    link.server_destinations.clear()
    link.type(b"z")
    link.run(1.0)
    roams = [e for e in link.server_events if isinstance(e, PeerAddressChanged)]
    assert roams == [PeerAddressChanged(CLIENT_ADDR, ROAMED_ADDR)]
    assert link.server.peer == ROAMED_ADDR
    assert link.server_destinations and set(link.server_destinations) == {ROAMED_ADDR}
    assert link.client.remote_state.rows[0].text.startswith("ls -lz")  # the echo came back
    # The client itself never notices anything: it still talks to the server's address.
    assert link.client.peer == SERVER_ADDR
    assert not any(isinstance(e, PeerAddressChanged) for e in link.client_events)


def test_older_datagram_from_another_address_does_not_move_the_peer() -> None:
    link = synced_link()
    older = _collect_client_datagrams(link, b"1")
    link.now += 0.05
    newer = _collect_client_datagrams(link, b"2")
    assert max(map(_seq, older)) < min(map(_seq, newer))
    server = link.server

    link.now += 0.02
    events: list[Event] = []
    for data in newer:
        events += server.receive_datagram(data, ROAMED_ADDR, link.now)
    assert PeerAddressChanged(CLIENT_ADDR, ROAMED_ADDR) in events
    assert server.peer == ROAMED_ADDR
    heard = server.last_heard
    srtt = server.rtt.srtt_ms

    link.now += 0.02
    drops = server.drops.total
    late: list[Event] = []
    for data in older:  # reordered in the network, and it took another path
        late += server.receive_datagram(data, OTHER_ADDR, link.now)
    assert not any(isinstance(e, PeerAddressChanged) for e in late)
    assert server.peer == ROAMED_ADDR
    assert server.last_heard == heard  # only the newest datagram says when we last heard
    assert server.rtt.srtt_ms == srtt
    assert server.drops.replayed == 0  # it was not a replay: it went to the transport
    assert server.drops.total <= drops + len(older)
    # Replies go to where the newest datagram came from.
    out: list[tuple[bytes, Address]] = []
    for _ in range(200):
        link.now += 0.005
        out += server.datagrams_to_send(link.now)
        if out:
            break
    assert out and {addr for _, addr in out} == {ROAMED_ADDR}
    # Both keystrokes arrived, in order, whatever the arrival order of their datagrams.
    link.server_consumes()
    assert link.echoed == "ls -l12"


def test_an_older_datagram_from_another_address_after_a_roam_back() -> None:
    # A → B → (late datagram from A): the peer stays at B.
    link = synced_link()
    first = _collect_client_datagrams(link, b"a")
    link.now += 0.05
    second = _collect_client_datagrams(link, b"b")
    for data in second:
        link.server.receive_datagram(data, ROAMED_ADDR, link.now)
    events = [e for d in first for e in link.server.receive_datagram(d, CLIENT_ADDR, link.now)]
    assert link.server.peer == ROAMED_ADDR
    assert not any(isinstance(e, PeerAddressChanged) for e in events)


def test_the_client_never_changes_its_peer() -> None:
    link = synced_link()
    screen = link.server.local_state.copy()
    screen.title = "changed"
    link.server.set_local_state(screen, link.now)
    caught: list[bytes] = []
    for _ in range(200):
        link.now += 0.002
        caught += [d for d, _ in link.server.datagrams_to_send(link.now)]
        if caught:
            break
    assert caught
    events: list[Event] = []
    for data in caught:
        events += link.client.receive_datagram(data, ROAMED_ADDR, link.now)
    assert any(isinstance(e, RemoteStateChanged) for e in events)  # authentic, and used
    assert not any(isinstance(e, PeerAddressChanged) for e in events)
    assert link.client.peer == SERVER_ADDR
    assert link.client.remote_state.title == "changed"
    link.type(b"q")
    out: list[tuple[bytes, Address]] = []
    for _ in range(200):
        link.now += 0.002
        out += link.client.datagrams_to_send(link.now)
    assert out and {addr for _, addr in out} == {SERVER_ADDR}


def test_garbage_from_a_new_address_never_roams() -> None:
    link = synced_link()
    server = link.server
    candidates: Iterator[bytes] = itertools.chain(
        [b"", b"\x00" * 100, link.received_by_server[-1]],
        (d[:-1] for d in link.received_by_server[-3:]),
        _forged(server, TO_SERVER, server.connection_id, Key.generate()),
        _forged(server, TO_CLIENT, server.connection_id, link.key),
    )
    for data in candidates:
        assert server.receive_datagram(data, ATTACKER_ADDR, link.now) == []
    assert server.peer == CLIENT_ADDR


# --- a silent client ------------------------------------------------------------------------
def _drive_server(link: Link, until: float, on_send: Callable[[float], None]) -> int:
    """Call the server as an event loop would: at each `next_deadline()`. Returns how many
    times it was woken (a busy loop would be woken without end)."""
    wakeups = 0
    while True:
        deadline = link.server.next_deadline()
        if deadline > until:
            link.now = until
            return wakeups
        link.now = max(link.now, deadline)
        wakeups += 1
        assert wakeups < 1000, f"busy loop at {link.now}: deadline {deadline}"
        if link.server.datagrams_to_send(link.now):
            on_send(link.now)


def test_server_stops_sending_to_a_silent_client_without_busy_looping_and_resumes() -> None:
    link = synced_link()
    link.deliver_to_server = False  # the client's datagrams stop arriving
    assert link.server.last_heard is not None
    silent_since = link.server.last_heard
    # The server has something new to say, which the client never acknowledges.
    screen = link.server.local_state.copy()
    screen.title = "still running"
    link.server.set_local_state(screen, link.now)

    sends: list[float] = []
    wakeups = _drive_server(link, silent_since + 60.0, sends.append)
    assert sends, "the server should keep trying for a while"
    assert max(sends) <= silent_since + SERVER_ASSOCIATION_TIMEOUT
    assert max(sends) > silent_since + 20.0  # heartbeats went on for a while
    assert wakeups < 100
    assert link.server.datagrams_to_send(link.now) == []
    assert link.server.next_deadline() > link.now  # not in the past: no busy loop
    # Output goes on while the client is away: still nothing to send, and no timer due.
    screen = link.server.local_state.copy()
    screen.title = "still running"
    screen.bell_count += 1
    link.server.set_local_state(screen, link.now)
    assert link.server.next_deadline() > link.now
    assert link.server.datagrams_to_send(link.now) == []
    link.now += 30.0
    assert link.server.datagrams_to_send(link.now) == []
    assert link.server.next_deadline() > link.now

    # The client comes back, from a new address as it happens.
    link.deliver_to_server = True
    link.client_addr = ROAMED_ADDR
    link.server_destinations.clear()
    link.type(b"back")
    link.run(2.0)
    assert link.server.last_heard is not None and link.server.last_heard > silent_since + 60
    assert link.server.peer == ROAMED_ADDR
    assert link.server_destinations and set(link.server_destinations) == {ROAMED_ADDR}
    assert link.client.remote_state.title == "still running"
    assert link.client.remote_state.bell_count == 1
    assert link.client.remote_state.rows[0].text.startswith("ls -lback")
    assert link.server.next_deadline() < float("inf")


def test_server_with_a_silent_client_ignores_garbage_and_stays_quiet() -> None:
    link = synced_link()
    link.deliver_to_server = False
    assert link.server.last_heard is not None
    _drive_server(link, link.server.last_heard + 50.0, lambda _: None)
    assert link.server.datagrams_to_send(link.now) == []
    assert_dropped(link.server, b"\x00" * 60, now=link.now)
    assert_dropped(link.server, link.received_by_server[-1], now=link.now)  # a replay
    assert link.server.datagrams_to_send(link.now + 1.0) == []


def test_open_packet_agrees_with_the_endpoint_on_direction(link: Link) -> None:
    cipher = Cipher(link.key)
    assert {open_packet(cipher, d).direction for d in link.received_by_server} == {TO_SERVER}
    assert {open_packet(cipher, d).direction for d in link.received_by_client} == {TO_CLIENT}


# --- fragments across retransmissions -------------------------------------------------------
def test_a_retransmission_completes_a_partly_lost_instruction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counter = itertools.count(1)
    monkeypatch.setattr("ssp.sender.make_chaff", lambda entropy: bytes([next(counter) % 256]))
    link = synced_link()
    rng = random.Random(1)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    screen = link.server.local_state.copy()
    screen.rows = [
        Row(tuple(rng.choice(alphabet) for _ in range(80)), (DEFAULT_RENDITION,) * 80)
        for _ in range(24)
    ]
    link.server.set_local_state(screen, link.now)
    transmissions: list[list[bytes]] = []
    start = link.now
    while len(transmissions) < 2 and link.now < start + 5.0:
        link.now += 0.002
        out = [d for d, _ in link.server.datagrams_to_send(link.now)]
        if out:
            transmissions.append(out)
    first, again = transmissions
    assert len(first) == len(again) == 2  # a repaint takes two fragments
    cipher = Cipher(link.key)
    ids = {open_packet(cipher, d).payload[:8] for d in first + again}
    assert len(ids) == 1  # the second is a retransmission of the first
    # Fragment 1 of the first transmission and fragment 0 of the second were lost.
    events = link.client.receive_datagram(first[0], SERVER_ADDR, link.now)
    events += link.client.receive_datagram(again[1], SERVER_ADDR, link.now)
    assert link.client.drops.malformed == 0
    assert any(isinstance(e, RemoteStateChanged) for e in events)
    assert link.client.remote_state == screen
