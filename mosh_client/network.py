"""The client's UDP side: the sans-IO endpoint on a socket, with port hopping.

If no round trip has succeeded for 10 s, the client sends from a new source port (a NAT may
have forgotten the old mapping). Old sockets stay open for receiving for a while, because
replies to them may still be on the way.
"""

from __future__ import annotations

import contextlib
import math
import socket
from collections.abc import Callable
from dataclasses import dataclass

import trio

from ssp.key import SecretKey
from ssp.screen import Framebuffer
from ssp.timing import UPSTREAM_TIMERS, Timers
from ssp.transport import Endpoint, Event
from ssp.userstream import UserStream
from ssp.wire import wire_for

OLD_SOCKET_LINGER = 60.0
MAX_OLD_SOCKETS = 10


@dataclass(eq=False)
class _ClientSocket:
    sock: trio.socket.SocketType
    cancel_scope: trio.CancelScope
    retired_at: float = math.inf  # when a newer socket took over sending


class ClientNetwork:
    """Owns the endpoint and the sockets; wakes `on_events` for what the endpoint reports."""

    def __init__(
        self,
        key: SecretKey,
        host: str,
        port: int,
        on_events: Callable[[list[Event]], None],
        timers: Timers = UPSTREAM_TIMERS,
        size: tuple[int, int] = (80, 24),
    ) -> None:
        """`key` says the protocol (`ssp.proto2.key.parse_connect_key`): a native key speaks
        to moshd, a protocol-2 key to a stock mosh-server. `timers`: the protocol's time
        constants; tests pass shorter ones. `size`: the window (width, height), the first
        screen of a protocol-2 session, as upstream's client starts."""
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.server = (host, port)
        self.protocol = key.PROTOCOL
        self.endpoint: Endpoint[UserStream, Framebuffer] = Endpoint(
            key,
            "client",
            *_initial_states(key, size),
            trio.current_time(),
            peer=self.server,
            timers=timers,
            wire=wire_for(key),
        )
        self._on_events = on_events
        self._sockets: list[_ClientSocket] = []
        self._wakeup = trio.Event()
        self._nursery: trio.Nursery | None = None

    def wake(self) -> None:
        """Something changed (a keystroke, a shutdown request): send what is due now."""
        self._wakeup.set()

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._open_socket()
            while True:
                now = trio.current_time()
                if self.endpoint.port_hop_due(now):
                    self._open_socket()
                    self.endpoint.note_port_hop(now)
                self._retire_old_sockets(now)
                current = self._sockets[-1].sock
                for datagram, addr in self.endpoint.datagrams_to_send(now):
                    # No route right now (roaming, offline) is as good as a lost datagram.
                    with contextlib.suppress(OSError):
                        await current.sendto(datagram, addr)  # type: ignore[call-overload]
                events = self.endpoint.take_events()  # how the connection ended, if it did
                if events:
                    self._on_events(events)
                # Sleep until something is due: nothing here polls (clients run on batteries).
                with trio.move_on_at(self._next_wakeup()):
                    await self._wakeup.wait()
                self._wakeup = trio.Event()

    def _next_wakeup(self) -> float:
        retire = [e.retired_at + OLD_SOCKET_LINGER for e in self._sockets[:-1]]
        return min(self.endpoint.next_deadline(), self.endpoint.port_hop_time(), *retire)

    def _open_socket(self) -> None:
        assert self._nursery is not None
        sock = trio.socket.socket(self.family, socket.SOCK_DGRAM)
        entry = _ClientSocket(sock, trio.CancelScope())
        if self._sockets:
            self._sockets[-1].retired_at = trio.current_time()
        self._sockets.append(entry)
        self._nursery.start_soon(self._receive, entry)

    def _retire_old_sockets(self, now: float) -> None:
        keep_from = max(0, len(self._sockets) - 1 - MAX_OLD_SOCKETS)
        for index, entry in enumerate(self._sockets[:-1]):
            if index < keep_from or now - entry.retired_at > OLD_SOCKET_LINGER:
                entry.cancel_scope.cancel()
        self._sockets = [e for e in self._sockets if not e.cancel_scope.cancel_called]

    async def _receive(self, entry: _ClientSocket) -> None:
        with entry.cancel_scope:
            try:
                while True:
                    try:
                        data, addr = await entry.sock.recvfrom(65535)
                    except OSError:
                        await trio.sleep(0.05)  # ICMP errors: the network is in flux
                        continue
                    events = self.endpoint.receive_datagram(data, addr, trio.current_time())
                    if events:
                        self._on_events(events)
                    self._wakeup.set()
            finally:
                entry.sock.close()


def _initial_states(key: SecretKey, size: tuple[int, int]) -> tuple[UserStream, Framebuffer]:
    """The user stream and the screen a session starts from, for the key's protocol. Protocol
    2's are imported only for it (its screen loads the client-side emulator)."""
    if key.PROTOCOL == "proto2":
        from mosh_client.proto2_screen import Proto2Screen
        from ssp.proto2.userstream import Proto2UserStream

        return Proto2UserStream(), Proto2Screen(*size)
    return UserStream(), Framebuffer()
