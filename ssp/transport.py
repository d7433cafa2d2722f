"""One SSP endpoint, sans-IO: the caller owns the socket and the clock.

    endpoint.receive_datagram(data, addr, now) -> events
    endpoint.datagrams_to_send(now) -> [(datagram, addr), ...]
    endpoint.next_deadline() -> when to call datagrams_to_send again
    endpoint.set_local_state(state, now)

An endpoint syncs one local state to its peer (the sender) and receives the peer's state (the
receiver). Around them sits the connection layer: sequence numbers, timestamps and RTT, and the
peer's address. Nothing here raises on bad input: garbage, forgeries, truncations and replays
are counted and dropped without changing any state.

How datagrams and instructions look on the wire is the endpoint's `wire` (ssp.wire): our own
protocol by default, or upstream mosh's protocol 2 (`ssp.proto2.wire.Proto2Wire`). Everything
else here is the same for both.

Longer than most modules: the receive path, the send path and the shutdown handshake all act
on one connection state (sequence spaces, RTT, the peer's address, the received states), which
is the endpoint itself; the parts with a job of their own live beside it (ssp.sender,
ssp.replay, ssp.wire, ssp.lifecycle).
"""

from __future__ import annotations

import bisect
import collections
import os
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from ssp.codec import DecodeError
from ssp.crypto import AuthenticationFailed
from ssp.datagram import (
    DEFAULT_DATAGRAM_BYTES,
    NO_TIMESTAMP,
    SEQ_MASK,
    SHUTDOWN_NUM,
    TO_CLIENT,
    TO_SERVER,
    DatagramError,
    FragmentAssembly,
    Fragmenter,
    Packet,
    timestamp16,
    timestamp_diff,
)
from ssp.key import SecretKey
from ssp.lifecycle import Closed, Ending, Phase
from ssp.replay import PeerRuns
from ssp.sender import Sender
from ssp.state import SyncState
from ssp.timing import (
    CLIENT_SEND_MINDELAY,
    REDUNDANCY_MAX_BYTES,
    REDUNDANCY_MIN_LOSS,
    SERVER_SEND_MINDELAY,
    UPSTREAM_TIMERS,
    LossEstimator,
    RttEstimator,
    Timers,
)
from ssp.wire import NativeWire, WireFactory

L = TypeVar("L", bound=SyncState)
R = TypeVar("R", bound=SyncState)
Address = Hashable  # whatever the caller's socket layer uses, e.g. ("127.0.0.1", 60001)
Role = Literal["server", "client"]

MAX_RECEIVED_STATES = 1024
RECEIVER_QUENCH = 15.0


# --- events --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RemoteStateChanged:
    num: int


@dataclass(frozen=True, slots=True)
class PeerAddressChanged:
    old: Address | None
    new: Address


@dataclass(frozen=True, slots=True)
class RttSampled:
    rtt_ms: float
    srtt_ms: float
    rttvar_ms: float


@dataclass(frozen=True, slots=True)
class ShutdownRequested:
    """The peer is shutting down; our ack goes out by itself (then `Closed` follows)."""


Event = RemoteStateChanged | PeerAddressChanged | RttSampled | ShutdownRequested | Closed


@dataclass(slots=True)
class ReceivedState(Generic[R]):
    timestamp: float
    num: int
    state: R


@dataclass(slots=True)
class DropCounts:
    """Why datagrams were dropped; for logs and tests, never for control flow."""

    unauthentic: int = 0
    malformed: int = 0
    wrong_direction: int = 0
    replayed: int = 0
    unusable: int = 0  # authentic but of no use: a state we have, or a base we lack

    @property
    def total(self) -> int:
        return (
            self.unauthentic + self.malformed + self.wrong_direction + self.replayed + self.unusable
        )


class Endpoint(Generic[L, R]):
    def __init__(
        self,
        key: SecretKey,
        role: Role,
        local_state: L,
        remote_state: R,
        now: float,
        peer: Address | None = None,
        datagram_bytes: int = DEFAULT_DATAGRAM_BYTES,
        entropy: Callable[[int], bytes] = os.urandom,
        timers: Timers = UPSTREAM_TIMERS,
        wire: WireFactory = NativeWire,
    ) -> None:
        """`entropy(n)` gives n random bytes: injected so that seeded simulations replay.
        `timers` holds the protocol's time constants; tests pass shorter ones. `wire` is the
        protocol spoken (see ssp.wire), made from `key`, which must be that wire's kind."""
        if role == "client" and peer is None:
            raise ValueError("a client needs the server's address")
        self.role: Role = role
        self.timers = timers
        # Made first of all: it draws the native nonce epoch, and seeded simulations rely on
        # the order in which entropy is drawn.
        self.wire = wire(key, entropy)
        self.connection_id = self.wire.connection_id
        # Part of every nonce we seal (native; always 0 in protocol 2).
        self.nonce_epoch = self.wire.nonce_epoch
        self._out_direction = TO_CLIENT if role == "server" else TO_SERVER
        self._in_direction = TO_SERVER if role == "server" else TO_CLIENT
        self._chunk_bytes = datagram_bytes - self.wire.datagram_overhead

        # connection layer
        self.peer: Address | None = peer
        self.rtt = RttEstimator()
        self.loss = LossEstimator()
        self.redundant_copies = 0  # datagrams sent twice because the link loses datagrams
        self._next_seq = 0
        self._peer_runs = PeerRuns()  # the replay window of each of the peer's runs
        self._saved_timestamp: int | None = None
        self._saved_timestamp_at = 0.0
        self.last_heard: float | None = None
        self.last_roundtrip_success = now
        self._last_port_hop = now
        self._detached = False  # server only: the client went silent; see _is_association_stale
        self.drops = DropCounts()

        # sender and receiver
        mindelay = SERVER_SEND_MINDELAY if role == "server" else CLIENT_SEND_MINDELAY
        self._sender: Sender[L] = Sender(
            local_state,
            self.rtt,
            now,
            mindelay,
            carries_input=role == "client",
            entropy=entropy,
            timers=timers,
            fragmenter=Fragmenter(self.wire.encode_instruction),
        )
        if role == "client":
            # The server was just started for us: presume it alive, so that a first keystroke
            # lost before any reply is retransmitted on the RTO rather than the 3 s heartbeat.
            self._sender.last_heard = now
        self._received: list[ReceivedState[R]] = [ReceivedState(now, 0, remote_state.copy())]
        self._assembly = FragmentAssembly(
            self.wire.decode_instruction, self.wire.max_instruction_bytes
        )
        self._quench_until = 0.0
        self._input_states: collections.deque[tuple[int, float]] = collections.deque()
        self._echo_ack = 0
        self.phase = Phase.OPEN  # see ssp.lifecycle
        # Set by the application while it cannot take more of the peer's input: new states
        # carrying input are then refused (not acknowledged), so the peer keeps and resends them.
        self.input_paused = False
        self._timer_events: list[Event] = []  # events of the send path, for `take_events`

    # --- local state ---------------------------------------------------------------------------
    @property
    def local_state(self) -> L:
        """The state being synced to the peer. Mutate it, then call `local_state_changed`."""
        return self._sender.current

    def set_local_state(self, state: L, now: float) -> None:
        self._sender.set_current(state, now)

    def local_state_changed(self, now: float) -> None:
        self._sender.calculate_timers(now)

    @property
    def acked_local_state(self) -> L:
        """The newest local state the peer has acknowledged (state 0 before any ack): the
        screen's scrollback release (moshd.session) is counted from it. Do not mutate it."""
        return self._sender.sent[0].state

    @property
    def acked_sent_time(self) -> float:
        """When the newest state the peer has acknowledged was sent ("Last reply" in the UI)."""
        return self._sender.acked_timestamp

    @property
    def last_sent_num(self) -> int:
        """Number of the newest local state sent: what the peer's echo_ack will refer to."""
        return self._sender.last_sent_num

    # --- remote state --------------------------------------------------------------------------
    @property
    def remote_state(self) -> R:
        return self._received[-1].state

    @property
    def remote_state_num(self) -> int:
        return self._received[-1].num

    def forget_consumed_remote(self) -> None:
        """The caller has taken what it needs from `remote_state`: let the states forget it."""
        oldest = self._received[0].state
        for received in reversed(self._received):
            received.state.subtract(oldest)

    def echo_ack(self, now: float) -> int:
        """The server's echo_ack: the newest remote state that brought the application input
        at least `timers.echo_timeout` ago. States without input (acks, heartbeats) never move
        it: if they did, each ack would change the screen state, whose frame the client acks,
        and an idle session would ping-pong several datagrams a second."""
        pending = self._input_states
        while pending and pending[0][1] <= now - self.timers.echo_timeout:
            self._echo_ack = max(self._echo_ack, pending.popleft()[0])
        return self._echo_ack

    def echo_ack_time(self) -> float:
        """When `echo_ack` next moves (may be inf)."""
        return (
            self._input_states[0][1] + self.timers.echo_timeout
            if self._input_states
            else float("inf")
        )

    # --- shutdown ------------------------------------------------------------------------------
    def start_shutdown(self, now: float) -> None:
        """Say goodbye; a `Closed` event reports how it ended. Nothing to do if the connection
        is already ending (the peer's goodbye counts)."""
        if self.phase is not Phase.OPEN:
            return
        self.phase = Phase.CLOSING
        self._sender.start_shutdown(now)
        if self._nobody_to_tell(now):
            self._close(Ending.UNREACHABLE, self._timer_events)

    def take_events(self) -> list[Event]:
        """Events of the send path (`datagrams_to_send`, `start_shutdown`): how the connection
        ended. `receive_datagram` returns its own events."""
        events, self._timer_events = self._timer_events, []
        return events

    def _nobody_to_tell(self, now: float) -> bool:
        if self.role == "client":
            return self.last_heard is None
        return self.peer is None or self._is_association_stale(now)

    def _close(self, ending: Ending, events: list[Event]) -> None:
        self.phase = Phase.CLOSED
        events.append(Closed(ending))

    def _advance_shutdown(self, now: float) -> None:
        """After sending: has the handshake ended on our side?"""
        if self.phase is Phase.PEER_CLOSING and self._sender.counterparty_shutdown_ack_sent():
            self._close(Ending.PEER_CLOSED, self._timer_events)
        elif self.phase is Phase.CLOSING:
            if self._nobody_to_tell(now):
                self._close(Ending.UNREACHABLE, self._timer_events)
            elif self._sender.shutdown_ack_timed_out(now):
                self._close(Ending.GAVE_UP, self._timer_events)

    @property
    def shutdown_in_progress(self) -> bool:
        return self._sender.shutdown_in_progress

    def shutdown_acknowledged(self) -> bool:
        return self._sender.shutdown_acknowledged()

    def shutdown_ack_timed_out(self, now: float) -> bool:
        return self._sender.shutdown_ack_timed_out(now)

    def counterparty_shutdown_ack_sent(self) -> bool:
        return self._sender.counterparty_shutdown_ack_sent()

    # --- client port hopping -------------------------------------------------------------------
    def port_hop_time(self) -> float:
        """When the client should open a new source port (a dead NAT mapping is likely) if no
        round trip succeeds before then; an event loop sleeps until this or `next_deadline`."""
        if self.role != "client":
            return float("inf")
        return max(self._last_port_hop, self.last_roundtrip_success) + self.timers.port_hop_interval

    def port_hop_due(self, now: float) -> bool:
        return now >= self.port_hop_time()

    def note_port_hop(self, now: float) -> None:
        self._last_port_hop = now

    # --- receive path --------------------------------------------------------------------------
    def receive_datagram(self, data: bytes, addr: Address, now: float) -> list[Event]:
        """Take one datagram from `addr`. Never raises; returns what happened."""
        try:
            packet = self.wire.open(data)
        except AuthenticationFailed:
            self.drops.unauthentic += 1
            return []
        except ValueError:  # DatagramError among others
            self.drops.malformed += 1
            return []
        return self.receive_packet(packet, addr, now)

    def receive_packet(self, packet: Packet, addr: Address, now: float) -> list[Event]:
        """Take a datagram already opened with `self.wire.open`: for a server port that finds a
        stock client's session by trying its sessions' keys, so that the one that opens it
        does not decrypt it twice. Never raises; returns what happened."""
        if packet.direction != self._in_direction or packet.connection_id != self.connection_id:
            # A reflection of our own datagrams, or a datagram of another connection.
            self.drops.wrong_direction += 1
            return []
        previous = self._peer_runs.note(packet.epoch, packet.seq)
        if previous is None:
            self.drops.replayed += 1
            return []
        events: list[Event] = []
        newest = packet.seq > previous
        if newest:
            # Only the newest authentic datagram of its run moves timing and the peer's address.
            # A restarted peer's first datagram is the newest of a new run, so it takes over. An
            # older run's next datagram takes them back: no run is retired for good, because a
            # replay of a run forgotten since would look new and could then keep the address.
            if previous >= 0:  # a run's first datagram has no gap before it to count
                self.loss.note_arrival(packet.seq - previous - 1)
            self._newest_datagram(packet, addr, now, events)
        else:
            self.loss.note_late_arrival()
        self._receive_fragment(packet.payload, now, events, newest)
        return events

    def _newest_datagram(
        self, packet: Packet, addr: Address, now: float, events: list[Event]
    ) -> None:
        if packet.timestamp != NO_TIMESTAMP:
            self._saved_timestamp = packet.timestamp
            self._saved_timestamp_at = now
        if packet.timestamp_reply != NO_TIMESTAMP:
            rtt_ms = float(timestamp_diff(timestamp16(now), packet.timestamp_reply))
            if self.rtt.add_sample(rtt_ms):
                events.append(RttSampled(rtt_ms, self.rtt.srtt_ms, self.rtt.rttvar_ms))
        self.last_heard = now
        self._sender.last_heard = now
        self._detached = False
        if self.role == "server" and addr != self.peer:
            events.append(PeerAddressChanged(self.peer, addr))
            self.peer = addr

    def _receive_fragment(
        self, fragment: bytes, now: float, events: list[Event], newest: bool
    ) -> None:
        try:
            inst = self._assembly.add(fragment)
        except DatagramError:
            self.drops.malformed += 1
            return
        if inst is None:
            return
        if inst.version != self.wire.protocol_version:
            self.drops.malformed += 1
            return
        self._sender.process_acknowledgment_through(inst.ack_num)
        if self.phase is Phase.CLOSING and self._sender.shutdown_acknowledged():
            self._close(Ending.ACKNOWLEDGED, events)
        nums = [received.num for received in self._received]
        if newest:  # a late, reordered datagram's ack says nothing about loss
            self._sender.note_peer_ack(inst.ack_num, now, peer_resent=inst.new_num in nums)
        self.last_roundtrip_success = max(self.last_roundtrip_success, self._sender.acked_timestamp)
        if inst.diff and self.input_paused and inst.new_num != SHUTDOWN_NUM:
            self.drops.unusable += 1  # backpressure: as if this datagram had been lost
            return

        if inst.new_num in nums:
            self.drops.unusable += 1  # a duplicate: idempotency
            return
        try:
            reference = self._received[nums.index(inst.old_num)]
        except ValueError:
            self.drops.unusable += 1  # we lack its base; security-relevant, never guess
            return
        self._process_throwaway(inst.throwaway_num)
        if len(self._received) > MAX_RECEIVED_STATES:
            if now < self._quench_until:
                self.drops.unusable += 1
                return
            self._quench_until = now + RECEIVER_QUENCH
        new_state = reference.state.copy()
        if inst.diff:
            try:
                new_state.apply(inst.diff)
            except (DecodeError, ValueError):
                self.drops.malformed += 1
                return
        newest_before = self._received[-1].num
        position = bisect.bisect([r.num for r in self._received], inst.new_num)
        self._received.insert(position, ReceivedState(now, inst.new_num, new_state))
        self._sender.set_ack_num(self._received[-1].num)
        if inst.diff:
            self._sender.set_data_ack(now)
            if inst.new_num != SHUTDOWN_NUM:
                self._input_states.append((inst.new_num, now))
        self._sender.calculate_timers(now)
        if self._received[-1].num != newest_before:
            events.append(RemoteStateChanged(self._received[-1].num))
            if self._received[-1].num == SHUTDOWN_NUM and self.phase is Phase.OPEN:
                self.phase = Phase.PEER_CLOSING
                events.append(ShutdownRequested())

    def _process_throwaway(self, throwaway_num: int) -> None:
        keep = [r for r in self._received if r.num >= throwaway_num]
        # The newest state always stays: the peer's throwaway never passes what it acked.
        self._received = keep or self._received[-1:]

    # --- send path -----------------------------------------------------------------------------
    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]:
        """Everything due at `now`, sealed and addressed. How the shutdown handshake ended, if
        it did, is then in `take_events`."""
        if self.phase is Phase.CLOSED:
            return []
        datagrams = self._due_datagrams(now)
        self._advance_shutdown(now)
        return datagrams

    def _due_datagrams(self, now: float) -> list[tuple[bytes, Address]]:
        peer = self.peer
        if peer is None:
            return []
        if self._is_association_stale(now):
            self._detached = True  # until the client is heard again
            return []
        fragments: list[bytes] = []
        self._sender.tick(now, self._chunk_bytes, fragments.append)
        if not fragments:
            return []
        reply = self._timestamp_reply(now)  # echoed by the first fragment only
        datagrams = [
            (self._seal(fragment, now, reply if index == 0 else NO_TIMESTAMP), peer)
            for index, fragment in enumerate(fragments)
        ]
        if self._redundancy_pays(datagrams):
            # Beyond upstream: on a lossy link one lost datagram would cost the user an RTO.
            # The copy is a datagram of its own (its own sequence number), so the peer's loss
            # estimate still sees what the link loses; the peer keeps whichever comes first.
            datagrams.append((self._seal(fragments[0], now, reply), peer))
            self.redundant_copies += 1
        return datagrams

    def _redundancy_pays(self, datagrams: list[tuple[bytes, Address]]) -> bool:
        """Only a single small datagram that a person is waiting for, on a link that loses
        datagrams: the extra bytes are bounded by the user's input rate."""
        return (
            len(datagrams) == 1
            and self._sender.sent_urgent
            and self.loss.rate >= REDUNDANCY_MIN_LOSS
            and len(datagrams[0][0]) <= REDUNDANCY_MAX_BYTES
        )

    def next_deadline(self) -> float:
        """Monotonic time at which `datagrams_to_send` next has something to do, or at which
        an unanswered shutdown gives up (`shutdown_ack_timed_out`); may be inf."""
        if self.phase is Phase.CLOSED:
            return float("inf")
        give_up = self._sender.shutdown_give_up_time()
        if self.peer is None or self._detached:
            return give_up
        deadline = self._sender.next_deadline()
        return min(give_up, float("inf") if self._is_association_stale(deadline) else deadline)

    def _is_association_stale(self, now: float) -> bool:
        """A server learns its client's address from the client's datagrams, and stops talking
        to an address that has been silent for `timers.server_association_timeout` (it keeps
        listening)."""
        return (
            self.role == "server"
            and self.last_heard is not None
            and now - self.last_heard > self.timers.server_association_timeout
        )

    def _timestamp_reply(self, now: float) -> int:
        """The peer's last timestamp plus how long we held it (so that holding it does not
        inflate the peer's RTT estimate), each stamp echoed once."""
        reply = NO_TIMESTAMP
        if self._saved_timestamp is not None:
            held = now - self._saved_timestamp_at
            if held < self.timers.timestamp_reply_window:
                reply = (self._saved_timestamp + int(held * 1000)) & 0xFFFF
                if reply == NO_TIMESTAMP:
                    reply = 0
            self._saved_timestamp = None
        return reply

    def _seal(self, payload: bytes, now: float, reply: int) -> bytes:
        seq = self._next_seq
        self._next_seq = (seq + 1) & SEQ_MASK
        packet = Packet(
            self.connection_id,
            self._out_direction,
            seq,
            timestamp16(now),
            reply,
            payload,
            self.nonce_epoch,
        )
        return self.wire.seal(packet)
