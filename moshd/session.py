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

Protocols. A session's attachments all speak its `Protocol`: native, or upstream's protocol 2
for stock clients; moshd.attachment makes them (`make_attachment`) and says goodbye for one
taken over (`say_goodbye`).

Detached. A session is detached when its current attachment has heard no authentic datagram
for more than DETACHED_AFTER seconds (a live client sends at least a heartbeat every 3 s),
counting from the attachment itself when none came yet; detached since the last datagram
heard, or since the attachment.

Longer than most modules: its tasks share the session's state (the emulator, the attachment,
the queue to the PTY, the close reason), so they stay together; what has a job of its own
lives beside it (moshd.attachment, moshd.endings, moshd.pty).
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable
from typing import cast

import structlog
import trio

from moshd.attachment import (
    DETACHED_AFTER,
    Attachment,
    Protocol,
    Wakeup,
    make_attachment,
    say_goodbye,
)
from moshd.endings import NO_TIMEOUTS, CloseReason, SessionTimeouts
from moshd.logging import format_peer
from moshd.pty import PtyChild
from moshd.udp import UdpPort
from ssp.datagram import Packet
from ssp.history import History
from ssp.key import SecretKey
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
from termemu.screenbase import DECCKM

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
# Scrollback lines a frame may release past what the client has acknowledged (see
# Session._release_history): at most this many in one diff, and about this many per frame
# interval on a fast link (the client's acknowledgment comes back within the interval), so a
# flood's scrollback costs both ends a bounded share of their time.
HISTORY_RELEASE = 250
# A flood past the scrollback limit evicts lines before they were released: the release then
# waits until no such eviction happened for this long (Session._note_evictions).
HISTORY_HOLD = 0.25
# How much of the session's recent scrollback a new attachment's client gets (`attach`).
REATTACH_HISTORY = 1000


class Session:
    def __init__(
        self,
        session_id: str,
        command: list[str],
        child: PtyChild,
        udp: UdpPort,
        width: int,
        height: int,
        timeouts: SessionTimeouts = NO_TIMEOUTS,
        clock: Callable[[], float] = trio.current_time,
        timers: Timers = UPSTREAM_TIMERS,
        protocol: Protocol = Protocol.NATIVE,
        scrollback: History | None = None,
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
        # The lines that scroll off the main screen (see "scrollback" below); a stock client
        # (protocol 2) has no use for them, so its session keeps none.
        self.history = scrollback if scrollback is not None else History()
        kept = self.history if protocol is Protocol.NATIVE else None
        self.emulator = Emulator(width, height, history=kept)
        self.log = structlog.get_logger("moshd.session").bind(session_id=session_id)
        self.close_reason: CloseReason | None = None
        self.goodbye: Ending | None = None  # how the goodbye to the client went
        self.exit_status: int | None = None
        self._wakeup = Wakeup()
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
        self._evicted_seen = 0  # the history's `first` at the last look (_note_evictions)
        self._history_held_until = -math.inf

    # --- attachments --------------------------------------------------------------------------
    def _new_attachment(self, protocol: Protocol) -> Attachment:
        return make_attachment(
            protocol, self._clock(), self._timers, self._initial_frame(), self._deliver
        )

    @property
    def key(self) -> SecretKey:
        """The current attachment's key (what `MOSH CONNECT` carries)."""
        return self.attachment.key

    @property
    def endpoint(self) -> Endpoint[Framebuffer, UserStream]:
        """The current attachment's endpoint. Typed as a native one: for protocol 2 its local
        state is a `HostScreen`, so what reads the local state's fields beyond `echo_ack`
        checks `attachment.protocol` first (the scrollback does)."""
        return cast(Endpoint[Framebuffer, UserStream], self.attachment.endpoint)

    @property
    def connection_id(self) -> int:
        return self.attachment.connection_id

    def _deliver(
        self, attachment: Attachment, item: bytes | Packet, addr: tuple[object, ...]
    ) -> None:
        """A datagram for this attachment arrived (called by the UDP receive loop)."""
        if len(attachment.inbox) < INBOX_LIMIT:
            attachment.inbox.append((item, addr))
            attachment.wakeup.set()
            if attachment is self.attachment:
                self._wakeup.set()

    def _route(self, attachment: Attachment) -> None:
        if attachment.stock_route is not None:
            self.udp.router.add_stock(attachment.stock_route)
            return

        def deliver(data: bytes, addr: tuple[object, ...]) -> None:
            self._deliver(attachment, data, addr)

        self.udp.routes[attachment.connection_id] = deliver

    def _unroute(self, attachment: Attachment) -> None:
        if attachment.stock_route is not None:
            self.udp.router.remove_stock(attachment.stock_route)
        else:
            self.udp.routes.pop(attachment.connection_id, None)

    def remove_routes(self) -> None:
        """The session is over: no datagram of any of its keys is routed any more."""
        for attachment in (self.attachment, *self._retiring):
            self._unroute(attachment)

    def attach(self) -> SecretKey:
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
        old.show(farewell, now)
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
        """The taken-over attachment's goodbye; its route goes when the handshake ends (or
        the session does)."""
        try:
            await say_goodbye(old, self.udp, self._clock, self.log)
        finally:
            self._unroute(old)
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
        return self._wall(self.attachment.attached_at if since is None else since)

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
            self.history.close()  # its memory goes back to the daemon's budget
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
                self._handle_events(attachment.receive(data, addr, now), now)
                heard = endpoint.last_heard
                if heard is not None and (before is None or heard - before > DETACHED_AFTER):
                    attachment.contact_since = heard  # (re)attached: a client is back
            self._check_timers(now)
            self._note_evictions(now)
            if self._screen_dirty or now >= endpoint.echo_ack_time() or self._history_waiting(now):
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
                route = self.attachment.stock_route
                if route is not None:
                    self.udp.router.note_peer(route, event.new)
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
        typed = bytearray()  # consecutive keystrokes in one write (protocol 2: one per byte)
        for index, event in enumerate(events):
            if isinstance(event, Keystroke):
                typed += event.data
            elif isinstance(event, Resize):
                self._type(typed)
                if index + 1 < len(events) and isinstance(events[index + 1], Resize):
                    continue  # only the last of consecutive resizes matters (as upstream)
                width, height = capped_size(event.width, event.height)
                self.emulator.resize(width, height)
                self.child.set_window_size(width, height)
                self._screen_dirty = True
        self._type(typed)

    def _type(self, typed: bytearray) -> None:
        """Queue keystrokes for the program (and empty `typed`); a stock client's arrows as
        upstream's server rewrites them."""
        if not typed:
            return
        data = bytes(typed)
        typed.clear()
        cursor_keys = self.attachment.cursor_keys
        if cursor_keys is not None:
            data = cursor_keys.translate(data, DECCKM in self.emulator.screen.mode)
        if data:
            self._queue_to_pty(data)

    def _publish_frame(self, now: float) -> None:
        echo_ack = self.endpoint.echo_ack(now)
        if (
            not self._screen_dirty
            and echo_ack == self.endpoint.local_state.echo_ack
            and not self._history_waiting(now)
        ):
            return
        self._screen_dirty = False
        screen = self.emulator.snapshot(echo_ack)
        screen.farewell = self.close_reason.farewell if self.close_reason else ""
        self._release_history(screen, now)
        self.attachment.show(screen, now)

    # --- scrollback (ssp.history) -----------------------------------------------------------
    # Each frame releases the session's scrollback up to at most HISTORY_RELEASE lines past
    # what the client has acknowledged, so one diff never carries more than that: under a
    # flood the frame after Ctrl-C, and the final screen, stay small. Lines the store evicted
    # meanwhile (past its limit) are released as a count at no cost; the client shows one
    # marker for them. While a flood evicts lines faster than they are released, nothing is
    # released (`_note_evictions`): the lines sent would be a fragment between two markers,
    # work for both ends that the user would only have to scroll past.

    def _initial_frame(self) -> Framebuffer:
        """State 0 of a new attachment. Its client starts with no scrollback and a history end
        of 0; counting from REATTACH_HISTORY lines before our end instead makes the first
        frames bring the session's recent scrollback (a reattach), and nothing older, with no
        marker: the diff carries lines by absolute number, so the client needs no agreement."""
        return Framebuffer(history_end=max(0, self.history.end - REATTACH_HISTORY))

    def _note_evictions(self, now: float) -> None:
        """Hold the release for HISTORY_HOLD after the store evicted lines never released (a
        flood past its limit); then the client gets one marker and the lines kept."""
        first = self.history.first
        if first == self._evicted_seen:
            return
        self._evicted_seen = first
        if self.attachment.protocol is Protocol.NATIVE and first > self._history_released():
            self._history_held_until = now + HISTORY_HOLD

    def _history_released(self) -> int:
        return self.endpoint.local_state.history_end

    def _history_release_end(self, now: float) -> int:
        if now < self._history_held_until:
            return self._history_released()
        acked = self.endpoint.acked_local_state.history_end
        return min(self.history.end, max(acked, self.history.first) + HISTORY_RELEASE)

    def _history_waiting(self, now: float) -> bool:
        """Whether a frame now would release scrollback lines the current one does not."""
        if self.attachment.protocol is Protocol.PROTO2:
            return False  # a stock client has no scrollback
        return self._history_release_end(now) > self._history_released()

    def _release_history(self, screen: Framebuffer, now: float) -> None:
        if self.attachment.protocol is Protocol.PROTO2:
            return
        screen.history = self.history
        screen.history_end = max(self._history_release_end(now), self._history_released())

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
        if self._history_held_until > now:
            deadlines.append(self._history_held_until)  # then the scrollback goes on
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
