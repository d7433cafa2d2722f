"""One session: a child on a PTY, its terminal emulator and its SSP endpoint, in one nursery.

Tasks (all owned by the session's nursery):
- the PTY reader feeds the emulator in bounded slices and marks the screen dirty;
- the PTY writer writes keystrokes and emulator replies in order, never dropping one;
- the child waiter notices the child's exit;
- the network loop (the session's main task) takes datagrams the daemon routed here, runs the
  sans-IO endpoint, builds a frame only when the screen changed, sends what is due, and decides
  when the session ends;
- after a takeover (`attach`), the retired attachment's goodbye handshake.

Attachments. A client reaches the session through an `Attachment`: a key, an `ssp.Endpoint`
built from it, and the UDP route of its connection id. `attach()` replaces it: a fresh key and
a fresh endpoint whose local state starts from state 0, so that its first frame carries the
whole screen; the new route goes in at once. The old attachment stops feeding the program at
once (its datagrams reach only its own endpoint, whose input nobody reads), says goodbye with
the farewell "this session was taken over by another client" (the bounded shutdown handshake
of any session end, in a task of its own) and loses its route when that ends.

Detached. A session is detached when its current attachment has heard no authentic datagram
for more than DETACHED_AFTER seconds (a live client sends at least a heartbeat every 3 s),
counting from the attachment itself when none came yet; detached since the last datagram
heard, or since the attachment.
"""

from __future__ import annotations

import collections
import enum
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
import trio

from moshd.logging import format_peer
from moshd.pty import PtyChild
from moshd.udp import UdpPort
from ssp.crypto import Key
from ssp.lifecycle import Closed, Ending, Phase
from ssp.screen import Framebuffer
from ssp.timing import UPSTREAM_TIMERS, Timers
from ssp.transport import (
    Endpoint,
    Event,
    PeerAddressChanged,
    RemoteStateChanged,
    RttSampled,
    ShutdownRequested,
)
from ssp.userstream import Keystroke, Resize, UserStream
from termemu.emulator import Emulator

NO_CLIENT_TIMEOUT = 60.0  # a session nobody ever attached to ends after this
FEED_SLICE = 16 * 1024  # emulator work per turn, so the network and input paths keep their turn
INBOX_LIMIT = 1024  # datagrams queued for the session; beyond that they are dropped (as loss)
EXIT_GRACE = 1.0  # after the child exits, how long to wait for the rest of its output
# Windows are capped at what real terminals use (a 4K screen at a small font is ~400 columns):
# every session of a user shares one daemon, and a 4096x4096 window would cost it 260 MB.
MAX_COLUMNS = 640
MAX_ROWS = 256
# Keystrokes waiting for a program that does not read its terminal: past the high mark the
# session stops accepting user input (the client keeps it and resends it), below the low mark
# it accepts again. Bounds the daemon's memory whatever the client sends.
PTY_BACKLOG_HIGH = 256 * 1024
PTY_BACKLOG_LOW = 64 * 1024
RTT_LOG_INTERVAL = 60.0
RTT_LOG_CHANGE = 0.25  # also log when SRTT moves by this fraction
# A live client sends at least a heartbeat every 3 s (ACK_INTERVAL): silent for longer than
# this, its session is detached, and `mosh-server attach` without an id may take it.
DETACHED_AFTER = 10.0


class Protocol(enum.StrEnum):
    """The protocol a session's clients speak; it decides the form of an attachment's key."""

    NATIVE = "native"  # this project's SSP: 32-byte keys, 43 characters of base64


class CloseReason(enum.StrEnum):
    CHILD_EXITED = "child_exited"
    CLIENT_QUIT = "client_quit"
    KILLED = "killed"
    NO_CLIENT = "no_client"
    NETWORK_TIMEOUT = "network_timeout"
    SIGNAL_TIMEOUT = "signal_timeout"
    DAEMON_STOPPING = "daemon_stopping"
    TAKEN_OVER = "taken_over"  # not a session end: an attachment's, when another client attached

    @property
    def farewell(self) -> str:
        """What the client is told when the server ends the session ("" when it was the
        client that quit, or when there is no client to tell)."""
        return _FAREWELLS.get(self, "")


_FAREWELLS = {
    CloseReason.CHILD_EXITED: "the session's program ended",
    CloseReason.KILLED: "the session was ended by mosh-server kill",
    CloseReason.NETWORK_TIMEOUT: "no contact for MOSH_SERVER_NETWORK_TMOUT seconds",
    CloseReason.SIGNAL_TIMEOUT: "moshd got SIGUSR1 after MOSH_SERVER_SIGNAL_TMOUT seconds",
    CloseReason.DAEMON_STOPPING: "moshd is stopping",
    CloseReason.TAKEN_OVER: "this session was taken over by another client",
}


@dataclass(frozen=True)
class SessionTimeouts:
    network: float | None = None  # MOSH_SERVER_NETWORK_TMOUT
    signal: float | None = None  # MOSH_SERVER_SIGNAL_TMOUT


class _Wakeup:
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

    key: Key
    endpoint: Endpoint[Framebuffer, UserStream]
    attached_at: float  # the session's clock
    attached_at_wall: float  # epoch seconds, for `list`
    # When its client's datagrams started coming without a gap of DETACHED_AFTER (clock)
    contact_since: float | None = None
    inbox: collections.deque[tuple[bytes, tuple[object, ...]]] = field(
        default_factory=collections.deque
    )
    wakeup: _Wakeup = field(default_factory=lambda: _Wakeup())

    @property
    def connection_id(self) -> int:
        return self.endpoint.connection_id


class Session:
    def __init__(
        self,
        session_id: str,
        command: list[str],
        child: PtyChild,
        udp: UdpPort,
        width: int,
        height: int,
        timeouts: SessionTimeouts = SessionTimeouts(),
        clock: Callable[[], float] = trio.current_time,
        timers: Timers = UPSTREAM_TIMERS,
        protocol: Protocol = Protocol.NATIVE,
    ) -> None:
        self.session_id = session_id
        self.command = command
        self.child = child
        self.udp = udp
        self.timeouts = timeouts
        self.created_at = time.time()
        self._clock = clock
        self._started = clock()
        self._timers = timers
        self.protocol = protocol
        width, height = capped_size(width, height)
        self.emulator = Emulator(width, height)
        self.log = structlog.get_logger("moshd.session").bind(session_id=session_id)
        self.close_reason: CloseReason | None = None
        self.goodbye: Ending | None = None  # how the goodbye to the client went
        self.exit_status: int | None = None
        self._wakeup = _Wakeup()
        self.attachment = self._new_attachment(protocol)
        self.attachments = 1  # how many there have been, this one included
        self._retiring: list[Attachment] = []  # taken over, still saying goodbye
        self._earlier_heard: float | None = None  # the last datagram of an earlier attachment
        self._earlier_peer: object = None  # and where it came from
        self._nursery: trio.Nursery | None = None  # while `run` runs
        self._finished = False
        self._route(self.attachment)
        self._to_pty: collections.deque[bytes] = collections.deque()
        self._to_pty_bytes = 0
        self._to_pty_ready = trio.Event()
        self._pty_eof = trio.Event()
        self._screen_dirty = True  # the first frame: see state 0 in _new_attachment
        self._consumed = 0  # user-stream events already given to the application
        self._client_awaited = True  # see _wait_for_a_client
        self._logged_srtt: float | None = None
        self._logged_rtt_at = -math.inf

    # --- attachments --------------------------------------------------------------------------
    def _new_attachment(self, protocol: Protocol) -> Attachment:
        """A fresh key and the endpoint it keys: the one place both are made, for any protocol.

        State 0 is the one both ends start from without telling each other: the default blank
        80x24 screen, whatever size this session has. The first frame carries the rest, so a
        client attaching to a running session gets the whole screen at once."""
        if protocol is not Protocol.NATIVE:  # pragma: no cover - the only protocol so far
            raise ValueError(f"no attachments for protocol {protocol}")
        key = Key.generate()
        now = self._clock()
        endpoint: Endpoint[Framebuffer, UserStream] = Endpoint(
            key, "server", Framebuffer(), UserStream(), now, timers=self._timers
        )
        return Attachment(key, endpoint, now, time.time())

    @property
    def key(self) -> Key:
        """The current attachment's key (what `MOSH CONNECT` carries)."""
        return self.attachment.key

    @property
    def endpoint(self) -> Endpoint[Framebuffer, UserStream]:
        return self.attachment.endpoint

    @property
    def connection_id(self) -> int:
        return self.attachment.connection_id

    def _route(self, attachment: Attachment) -> None:
        def deliver(data: bytes, addr: tuple[object, ...]) -> None:
            """A datagram for this attachment arrived (called by the UDP receive loop)."""
            if len(attachment.inbox) < INBOX_LIMIT:
                attachment.inbox.append((data, addr))
                attachment.wakeup.set()
                if attachment is self.attachment:
                    self._wakeup.set()

        self.udp.routes[attachment.connection_id] = deliver

    def remove_routes(self) -> None:
        """The session is over: no datagram of any of its keys is routed any more."""
        for attachment in (self.attachment, *self._retiring):
            self.udp.routes.pop(attachment.connection_id, None)

    def attach(self) -> Key:
        """Give the session to a new client: return the key of a fresh attachment. The old key
        stops working at once; its client, if alive, is told and let go (see the module)."""
        if self.close_reason is not None or self._finished:
            raise SessionEnded(self.session_id)
        now = self._clock()
        old, new = self.attachment, self._new_attachment(self.protocol)
        new.endpoint.input_paused = old.endpoint.input_paused
        self._route(new)
        self.attachment = new
        self.attachments += 1
        heard = old.endpoint.last_heard
        if heard is not None:
            self._earlier_heard = max(heard, self._earlier_heard or heard)
        if old.endpoint.peer is not None:
            self._earlier_peer = old.endpoint.peer
        self._consumed = 0  # the new client's user stream starts from nothing
        self._screen_dirty = True  # its first frame: the whole screen
        self._wakeup.set()
        # The old client's goodbye: the screen as it is now, with why it ends.
        farewell = self.emulator.snapshot(old.endpoint.echo_ack(now))
        farewell.farewell = CloseReason.TAKEN_OVER.farewell
        old.endpoint.set_local_state(farewell, now)
        old.endpoint.start_shutdown(now)
        self._retiring.append(old)
        if self._nursery is not None:
            self._nursery.start_soon(self._retire, old)  # else `run` starts it
        self.log.info(
            "session.taken_over",
            old_peer=format_peer(old.endpoint.peer),
            attachments=self.attachments,
        )
        return new.key

    async def _retire(self, old: Attachment) -> None:
        """The taken-over attachment's goodbye, bounded as any session end's is; its input
        is never read. Its route goes when the handshake ends (or the session does)."""
        endpoint = old.endpoint
        try:
            while True:
                now = self._clock()
                while old.inbox:
                    data, addr = old.inbox.popleft()
                    endpoint.receive_datagram(data, addr, now)
                for datagram, destination in endpoint.datagrams_to_send(now):
                    await self.udp.send(datagram, destination)
                for event in endpoint.take_events():
                    if isinstance(event, Closed):
                        self.log.info(
                            "session.taken_over_client_released",
                            peer=format_peer(endpoint.peer),
                            goodbye=str(event.ending),
                        )
                if endpoint.phase is Phase.CLOSED:
                    return
                await old.wakeup.wait_until(endpoint.next_deadline())
        finally:
            self.udp.routes.pop(old.connection_id, None)
            if old in self._retiring:
                self._retiring.remove(old)

    # --- what `list` shows ----------------------------------------------------------------
    def detached_since(self) -> float | None:
        """Epoch time since which the session is detached (see the module), or None while a
        client is attached."""
        heard = self.endpoint.last_heard
        reference = heard if heard is not None else self.attachment.attached_at
        if self._clock() - reference <= DETACHED_AFTER:
            return None
        return self._wall(reference)

    def attached_since(self) -> float:
        """Epoch time since which the current client has been in contact (or, before it is
        first heard, the attachment's time)."""
        since = self.attachment.contact_since
        return self.attachment.attached_at_wall if since is None else self._wall(since)

    def last_heard_wall(self) -> float | None:
        """Epoch time of the last authentic datagram from any client of the session."""
        heard = self._last_heard_any()
        return None if heard is None else self._wall(heard)

    def _wall(self, moment: float) -> float:
        """A moment of the session's clock as epoch seconds."""
        return time.time() - (self._clock() - moment)

    def _last_heard_any(self) -> float | None:
        heard = self.endpoint.last_heard
        return heard if heard is not None else self._earlier_heard

    # --- called from outside the session's tasks (cheap, never raise) ------------------------
    def request_close(self, reason: CloseReason) -> None:
        """End the session (the first reason given is the one that counts). The program is
        hung up at once, not after the goodbye to the client, which may take a while."""
        if self.close_reason is None:
            self.close_reason = reason
            if reason is not CloseReason.CHILD_EXITED:
                self.child.hangup()
            self._screen_dirty = True  # the goodbye carries the farewell
            self._wakeup.set()
        elif reason is not CloseReason.CHILD_EXITED:
            # A program that ended before any client came keeps its screen for the client
            # (`_wait_for_a_client`); being killed or stopped ends that wait.
            self._client_awaited = False
            self._wakeup.set()

    def signal_timeout_expired(self) -> bool:
        """SIGUSR1 semantics: end if without contact for MOSH_SERVER_SIGNAL_TMOUT seconds."""
        if self.timeouts.signal is None:
            return False
        return self._seconds_without_contact(self._clock()) >= self.timeouts.signal

    @property
    def peer(self) -> str | None:
        """The address of the client last heard from (an earlier attachment's until the
        current one's client is heard)."""
        peer = self.endpoint.peer
        return format_peer(peer if peer is not None else self._earlier_peer)

    @property
    def age(self) -> float:
        return self._clock() - self._started

    # --- the session's tasks -----------------------------------------------------------------
    async def run(self) -> CloseReason:
        """Run until the session ends; return why."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for old in self._retiring:  # taken over before the session ran
                    nursery.start_soon(self._retire, old)
                nursery.start_soon(self._read_pty)
                nursery.start_soon(self._write_pty)
                nursery.start_soon(self._wait_child)
                await self._network_loop()
                nursery.cancel_scope.cancel()
        finally:
            self._nursery = None
            self._finished = True
        assert self.close_reason is not None
        return self.close_reason

    async def _read_pty(self) -> None:
        while True:
            data = await self.child.read(FEED_SLICE)  # one bounded slice of emulator work
            if not data:
                break
            self.emulator.feed(data)
            replies = self.emulator.take_replies()
            if replies:
                self._queue_to_pty(replies)
            self._screen_dirty = True
            self._wakeup.set()
            # Under a flood the PTY always has data, so the read above never waits: yield here,
            # or the network and input paths (Ctrl-C!) would never get their turn.
            await trio.lowlevel.checkpoint()
        self._pty_eof.set()
        self.request_close(CloseReason.CHILD_EXITED)

    async def _write_pty(self) -> None:
        while True:
            await self._to_pty_ready.wait()
            self._to_pty_ready = trio.Event()
            while self._to_pty:
                try:
                    await self.child.write(self._to_pty[0])
                except OSError:
                    return  # the terminal is gone; the reader ends the session
                self._to_pty_bytes -= len(self._to_pty.popleft())
                if self.endpoint.input_paused and self._to_pty_bytes <= PTY_BACKLOG_LOW:
                    self.endpoint.input_paused = False  # the client's next resend gets in

    async def _wait_child(self) -> None:
        self.exit_status = await self.child.wait_exit()
        # Let the reader take the last output, unless something (a background job) keeps the
        # terminal open.
        with trio.move_on_after(EXIT_GRACE):
            await self._pty_eof.wait()
        self.request_close(CloseReason.CHILD_EXITED)

    def _queue_to_pty(self, data: bytes) -> None:
        self._to_pty.append(data)
        self._to_pty_bytes += len(data)
        if self._to_pty_bytes > PTY_BACKLOG_HIGH:
            self.endpoint.input_paused = True
        self._to_pty_ready.set()

    async def _network_loop(self) -> None:
        while True:
            attachment = self.attachment  # `attach` may replace it whenever this loop awaits
            endpoint = attachment.endpoint
            now = self._clock()
            while attachment.inbox:
                data, addr = attachment.inbox.popleft()
                before = endpoint.last_heard
                self._handle_events(endpoint.receive_datagram(data, addr, now), now)
                heard = endpoint.last_heard
                if heard is not None and (before is None or heard - before > DETACHED_AFTER):
                    attachment.contact_since = heard  # (re)attached: a client is back
            self._check_timers(now)
            if self._screen_dirty or now >= endpoint.echo_ack_time():
                self._publish_frame(now)
            if self.close_reason is not None and not self._wait_for_a_client(now):
                # Once; a no-op while the client's own goodbye is being answered.
                endpoint.start_shutdown(now)
            for datagram, destination in endpoint.datagrams_to_send(now):
                await self.udp.send(datagram, destination)
            if attachment is not self.attachment:
                continue  # taken over meanwhile: the old endpoint's end is `_retire`'s business
            self._handle_events(endpoint.take_events(), now)
            if endpoint.phase is Phase.CLOSED:
                return
            await self._wakeup.wait_until(min(endpoint.next_deadline(), self._next_timer(now)))

    # --- helpers of the network loop --------------------------------------------------------
    def _handle_events(self, events: list[Event], now: float) -> None:
        for event in events:
            if isinstance(event, RemoteStateChanged):
                self._take_user_input()
            elif isinstance(event, PeerAddressChanged):
                if event.old is None:
                    self.log.info("session.attached", peer=format_peer(event.new))
                else:
                    self.log.info(
                        "session.roamed",
                        old_peer=format_peer(event.old),
                        new_peer=format_peer(event.new),
                    )
            elif isinstance(event, RttSampled):
                self._maybe_log_rtt(event, now)
            elif isinstance(event, ShutdownRequested):
                self.request_close(CloseReason.CLIENT_QUIT)
            elif isinstance(event, Closed):
                self.goodbye = event.ending

    def _take_user_input(self) -> None:
        stream = self.endpoint.remote_state
        events = stream.events_since(self._consumed)
        self._consumed = stream.total
        self.endpoint.forget_consumed_remote()
        for event in events:
            if isinstance(event, Keystroke):
                self._queue_to_pty(event.data)
            elif isinstance(event, Resize):
                width, height = capped_size(event.width, event.height)
                self.emulator.resize(width, height)
                self.child.set_window_size(width, height)
                self._screen_dirty = True

    def _publish_frame(self, now: float) -> None:
        echo_ack = self.endpoint.echo_ack(now)
        if not self._screen_dirty and echo_ack == self.endpoint.local_state.echo_ack:
            return
        self._screen_dirty = False
        screen = self.emulator.snapshot(echo_ack)
        screen.farewell = self.close_reason.farewell if self.close_reason else ""
        self.endpoint.set_local_state(screen, now)

    def _wait_for_a_client(self, now: float) -> bool:
        """A command that ended before any client attached (`mosh host -- printf ok`) keeps
        its final screen until the client comes to see it, or the no-client timeout ends it."""
        return (
            self.close_reason is CloseReason.CHILD_EXITED
            and self._client_awaited
            and self.endpoint.peer is None
            and now - self._started < NO_CLIENT_TIMEOUT
        )

    def _timeouts(self) -> list[tuple[float, CloseReason]]:
        """When each of the session's own timeouts expires, and why it would end the session
        (the one place these rules are written: `_check_timers` and `_next_timer` use it)."""
        if self.close_reason is not None:
            return []  # already ending: the timeouts have done their job
        timeouts = []
        if self._last_heard_any() is None:
            # Nobody ever came, since the session started or since the last `attach`.
            timeouts.append(
                (self.attachment.attached_at + NO_CLIENT_TIMEOUT, CloseReason.NO_CLIENT)
            )
        if self.timeouts.network is not None:
            timeouts.append(
                (self._last_contact() + self.timeouts.network, CloseReason.NETWORK_TIMEOUT)
            )
        return timeouts

    def _check_timers(self, now: float) -> None:
        for due, reason in self._timeouts():
            if now >= due:
                self.request_close(reason)
                return

    def _next_timer(self, now: float) -> float:
        deadlines = [self.endpoint.echo_ack_time(), *(due for due, _ in self._timeouts())]
        if self._wait_for_a_client(now):
            deadlines.append(self._started + NO_CLIENT_TIMEOUT)  # then: goodbye to nobody
        return min(deadlines)

    def _last_contact(self) -> float:
        """The last datagram heard from a client, or the last attachment if later."""
        heard = self._last_heard_any()
        attached = self.attachment.attached_at
        return attached if heard is None else max(heard, attached)

    def _seconds_without_contact(self, now: float) -> float:
        return now - self._last_contact()

    def _maybe_log_rtt(self, sample: RttSampled, now: float) -> None:
        logged = self._logged_srtt
        big_change = logged is None or abs(sample.srtt_ms - logged) > max(
            RTT_LOG_CHANGE * logged, 5.0
        )
        if big_change or now - self._logged_rtt_at >= RTT_LOG_INTERVAL:
            self._logged_srtt, self._logged_rtt_at = sample.srtt_ms, now
            self.log.info(
                "session.rtt",
                srtt_ms=round(sample.srtt_ms, 1),
                rttvar_ms=round(sample.rttvar_ms, 1),
                rtt_ms=round(sample.rtt_ms, 1),
                peer=self.peer,
            )


class SessionEnded(Exception):
    """The session is ending, or has ended: nobody can attach to it any more."""


def capped_size(width: int, height: int) -> tuple[int, int]:
    return min(width, MAX_COLUMNS), min(height, MAX_ROWS)
