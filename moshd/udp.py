"""The daemon's UDP sockets and the routing of datagrams to sessions by connection id.

One socket serves every session by default (users open one firewall port, not a thousand);
a session that asks for a particular address or port (`mosh-server new -i IP -p PORT`) gets a
socket of its own, shared with any later session that asks for the same. Datagrams are routed
only among the sessions of the socket they arrived on, so a session always answers from the
address and port its client is talking to. How a datagram finds its session, native or a
stock client's (protocol 2), is `moshd.routing`.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Hashable
from dataclasses import dataclass, field

import structlog
import trio

from moshd.logging import format_peer
from moshd.ports import PortRange
from moshd.routing import Deliver, Router

DEFAULT_PORTS = PortRange(60001, 60999)
MAX_DATAGRAM = 65535
_log = structlog.get_logger("moshd.udp")

__all__ = ["Deliver", "NoFreePort", "UdpPort", "UdpPorts"]


class NoFreePort(Exception):
    """Every port of the range is taken (or the address cannot be bound)."""


@dataclass(eq=False)
class UdpPort:
    sock: trio.socket.SocketType
    bind_ip: str
    port: int
    dedicated: bool
    router: Router = field(init=False)
    cancel_scope: trio.CancelScope = field(default_factory=trio.CancelScope)

    def __post_init__(self) -> None:
        self.router = Router(trio.current_time(), log=_log.bind(port=self.port))

    @property
    def routes(self) -> dict[int, Deliver]:
        """Native sessions' routes, by connection id."""
        return self.router.routes

    @property
    def unroutable(self) -> int:
        """Datagrams no session got (`router.drops` says why)."""
        return self.router.drops.total

    async def receive_loop(self) -> None:
        """Route datagrams until closed. A bad datagram or a failing route costs only itself."""
        with self.cancel_scope:
            while True:
                try:
                    data, addr = await self.sock.recvfrom(MAX_DATAGRAM)
                except OSError as exc:
                    # ICMP errors surface here as ECONNREFUSED etc. on Linux; keep serving.
                    _log.debug("udp.receive_error", port=self.port, errno=exc.errno)
                    continue
                self.router.route(data, addr, trio.current_time())

    async def send(self, data: bytes, addr: Hashable) -> None:
        try:
            await self.sock.sendto(data, addr)  # type: ignore[call-overload]
        except OSError as exc:
            # A vanished network (roaming laptop) or a full buffer is a lost datagram, no more.
            _log.debug("udp.send_error", port=self.port, peer=format_peer(addr), errno=exc.errno)


def _family_for(bind_ip: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ipaddress.ip_address(bind_ip).version == 6 else socket.AF_INET


async def bind_in_range(bind_ip: str, ports: PortRange) -> tuple[trio.socket.SocketType, int]:
    """A UDP socket bound to `bind_ip` on the first free port of `ports`."""
    family = _family_for(bind_ip)
    last_error: OSError | None = None
    for port in range(ports.low, ports.high + 1):
        sock = trio.socket.socket(family, socket.SOCK_DGRAM)
        try:
            if family == socket.AF_INET6 and bind_ip == "::":
                # Dual stack: IPv4 clients arrive as ::ffff:a.b.c.d on the same socket.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            await sock.bind((bind_ip, port))
        except OSError as exc:
            sock.close()
            last_error = exc
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                continue
            raise NoFreePort(f"cannot bind UDP {bind_ip} port {port}: {exc.strerror}") from exc
        return sock, int(sock.getsockname()[1])
    reason = f": {last_error.strerror}" if last_error else ""
    raise NoFreePort(f"no free UDP port in {ports} on {bind_ip}{reason}")


def default_bind_ip() -> str:
    """`::` (dual stack) where IPv6 exists, else `0.0.0.0`."""
    return "::" if socket.has_ipv6 and _ipv6_usable() else "0.0.0.0"


def _ipv6_usable() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::", 0))
    except OSError:
        return False
    return True


class UdpPorts:
    """The daemon's sockets: the shared one and any dedicated ones, each with its routes."""

    def __init__(self, nursery: trio.Nursery, bind_ip: str, ports: PortRange) -> None:
        self._nursery = nursery
        self._default_bind_ip = bind_ip
        self._default_ports = ports
        self._shared: UdpPort | None = None
        self._dedicated: list[UdpPort] = []

    @property
    def all(self) -> list[UdpPort]:
        return ([self._shared] if self._shared else []) + self._dedicated

    async def open_shared(self) -> UdpPort:
        if self._shared is None:
            sock, port = await bind_in_range(self._default_bind_ip, self._default_ports)
            self._shared = self._start(UdpPort(sock, self._default_bind_ip, port, dedicated=False))
        return self._shared

    async def acquire(self, bind_ip: str | None, ports: PortRange | None) -> UdpPort:
        """The socket a new session should use."""
        if bind_ip is None and ports is None:
            return await self.open_shared()
        want_ip = bind_ip or self._default_bind_ip
        want_ports = ports or self._default_ports
        for candidate in self.all:
            if candidate.bind_ip == want_ip and want_ports.low <= candidate.port <= want_ports.high:
                return candidate
        sock, port = await bind_in_range(want_ip, want_ports)
        udp = self._start(UdpPort(sock, want_ip, port, dedicated=True))
        self._dedicated.append(udp)
        return udp

    def release(self, udp: UdpPort) -> None:
        """Close a dedicated socket once no session uses it."""
        if udp.dedicated and not udp.router.has_routes and udp in self._dedicated:
            self._dedicated.remove(udp)
            udp.cancel_scope.cancel()
            udp.sock.close()

    def _start(self, udp: UdpPort) -> UdpPort:
        self._nursery.start_soon(udp.receive_loop)
        return udp
