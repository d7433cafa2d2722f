"""One session: a child on a PTY, its terminal emulator and its SSP endpoint, in one nursery.

Tasks (all owned by the session's nursery):
- the PTY reader feeds the emulator in bounded slices and marks the screen dirty;
- the PTY writer writes keystrokes and emulator replies in order, never dropping one;
- the child waiter notices the child's exit;
- the network loop (the session's main task) takes datagrams the daemon routed here, runs the
  sans-IO endpoint, builds a frame only when the screen changed, sends what is due, and decides
  when the session ends.
"""

from __future__ import annotations

import collections
import enum
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

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


class CloseReason(enum.StrEnum):
    CHILD_EXITED = "child_exited"
    CLIENT_QUIT = "client_quit"
    KILLED = "killed"
    NO_CLIENT = "no_client"
    NETWORK_TIMEOUT = "network_timeout"
    SIGNAL_TIMEOUT = "signal_timeout"
    DAEMON_STOPPING = "daemon_stopping"

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


class Session:
    def __init__(
        self,
        session_id: str,
        key: Key,
        command: list[str],
        child: PtyChild,
        udp: UdpPort,
        width: int,
        height: int,
        timeouts: SessionTimeouts = SessionTimeouts(),
        clock: Callable[[], float] = trio.current_time,
        timers: Timers = UPSTREAM_TIMERS,
    ) -> None:
        self.session_id = session_id
        self.command = command
        self.child = child
        self.udp = udp
        self.timeouts = timeouts
        self.created_at = time.time()
        self._clock = clock
        self._started = clock()
        width, height = capped_size(width, height)
        self.emulator = Emulator(width, height)
        # State 0 is the one both ends start from without telling each other: the default
        # blank 80x24 screen, whatever size this session has. The first frame carries the rest.
        self.endpoint: Endpoint[Framebuffer, UserStream] = Endpoint(
            key, "server", Framebuffer(), UserStream(), self._started, timers=timers
        )
        self.connection_id = self.endpoint.connection_id
        self.log = structlog.get_logger("moshd.session").bind(session_id=session_id)
        self.close_reason: CloseReason | None = None
        self.goodbye: Ending | None = None  # how the goodbye to the client went
        self.exit_status: int | None = None
        self._inbox: collections.deque[tuple[bytes, tuple[object, ...]]] = collections.deque()
        self._wakeup = _Wakeup()
        self._to_pty: collections.deque[bytes] = collections.deque()
        self._to_pty_bytes = 0
        self._to_pty_ready = trio.Event()
        self._pty_eof = trio.Event()
        self._screen_dirty = True  # the first frame: see state 0 above
        self._consumed = 0  # user-stream events already given to the application
        self._logged_srtt: float | None = None
        self._logged_rtt_at = -math.inf

    # --- called from outside the session's tasks (cheap, never raise) ------------------------
    def deliver(self, data: bytes, addr: tuple[object, ...]) -> None:
        """A datagram for this session arrived (called by the UDP receive loop)."""
        if len(self._inbox) < INBOX_LIMIT:
            self._inbox.append((data, addr))
            self._wakeup.set()

    def request_close(self, reason: CloseReason) -> None:
        """End the session (the first reason given is the one that counts). The program is
        hung up at once, not after the goodbye to the client, which may take a while."""
        if self.close_reason is None:
            self.close_reason = reason
            if reason is not CloseReason.CHILD_EXITED:
                self.child.hangup()
            self._screen_dirty = True  # the goodbye carries the farewell
            self._wakeup.set()

    def signal_timeout_expired(self) -> bool:
        """SIGUSR1 semantics: end if without contact for MOSH_SERVER_SIGNAL_TMOUT seconds."""
        if self.timeouts.signal is None:
            return False
        return self._seconds_without_contact(self._clock()) >= self.timeouts.signal

    @property
    def peer(self) -> str | None:
        return format_peer(self.endpoint.peer)

    @property
    def age(self) -> float:
        return self._clock() - self._started

    # --- the session's tasks -----------------------------------------------------------------
    async def run(self) -> CloseReason:
        """Run until the session ends; return why."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._read_pty)
            nursery.start_soon(self._write_pty)
            nursery.start_soon(self._wait_child)
            await self._network_loop()
            nursery.cancel_scope.cancel()
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
        endpoint = self.endpoint
        while True:
            now = self._clock()
            while self._inbox:
                data, addr = self._inbox.popleft()
                self._handle_events(endpoint.receive_datagram(data, addr, now), now)
            self._check_timers(now)
            if self._screen_dirty or now >= endpoint.echo_ack_time():
                self._publish_frame(now)
            if self.close_reason is not None and not self._wait_for_a_client(now):
                # Once; a no-op while the client's own goodbye is being answered.
                endpoint.start_shutdown(now)
            for datagram, destination in endpoint.datagrams_to_send(now):
                await self.udp.send(datagram, destination)
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
            and self.endpoint.peer is None
            and now - self._started < NO_CLIENT_TIMEOUT
        )

    def _timeouts(self) -> list[tuple[float, CloseReason]]:
        """When each of the session's own timeouts expires, and why it would end the session
        (the one place these rules are written: `_check_timers` and `_next_timer` use it)."""
        if self.close_reason is not None:
            return []  # already ending: the timeouts have done their job
        timeouts = []
        if self.endpoint.last_heard is None:
            timeouts.append((self._started + NO_CLIENT_TIMEOUT, CloseReason.NO_CLIENT))
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
        heard = self.endpoint.last_heard
        return heard if heard is not None else self._started

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


def capped_size(width: int, height: int) -> tuple[int, int]:
    return min(width, MAX_COLUMNS), min(height, MAX_ROWS)
