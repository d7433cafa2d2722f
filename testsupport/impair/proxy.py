"""A user-space UDP impairment proxy (netem stand-in) for loopback tests and benchmarks.

The kernel this project is tested on has no netem, so delay, loss, duplication,
reordering, bandwidth caps, blackouts and roaming are emulated here, between one
client and one server::

    client ──▶ [listen socket] ──up──▶ [upstream socket] ──▶ server
    client ◀── [listen socket] ◀─down── [upstream socket] ◀── server

Every datagram is judged once, on arrival (blackout, loss, rate queue, duplicate),
and given a departure time; departures wait on a single heap served with
``trio.sleep_until`` so that delays do not accumulate drift.

Network rule: only loopback addresses (127.0.0.0/8, ::1) are ever accepted, for
listening, for the server and for roaming source addresses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import ipaddress
import itertools
import math
import random
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import trio

Address = tuple[str, int]
Direction = Literal["up", "down"]
DIRECTIONS: tuple[Direction, ...] = ("up", "down")

_MAX_DATAGRAM = 65536
# Bursty benchmarks can outrun the proxy for a moment; a bigger kernel buffer keeps
# those bursts from turning into losses nobody configured (capped at rmem_max).
_SOCKET_BUFFER = 4 * 1024 * 1024


# ---------------------------------------------------------------------------
# Loopback-only address handling
# ---------------------------------------------------------------------------


def check_loopback(host: str) -> str:
    """Return `host` normalised if it is a loopback IP literal, else raise ValueError.

    Host names are refused on purpose: resolving them could yield a routable
    address, and the proxy must never talk to anything but loopback.
    """
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"not an IP address literal (loopback only): {host!r}") from None
    if not ip.is_loopback:
        raise ValueError(f"refusing non-loopback address {host!r} (127.0.0.0/8 or ::1 only)")
    return str(ip)


def check_loopback_address(address: tuple[str, int]) -> Address:
    host, port = address[0], address[1]
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"bad port in {address!r}")
    return check_loopback(host), port


def parse_hostport(text: str) -> Address:
    """Parse ``127.0.0.1:9000`` or ``[::1]:9000`` into a checked loopback address."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return check_loopback_address((host, int(port)))


def format_hostport(address: tuple[str, int]) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET


# ---------------------------------------------------------------------------
# Impairment settings and statistics
# ---------------------------------------------------------------------------

_PROBABILITIES = frozenset({"loss", "duplicate", "reorder"})
_DURATIONS = frozenset({"delay", "jitter", "reorder_delay"})


@dataclass
class Impairment:
    """What one direction of the link does to datagrams. Mutable at any time.

    Every assignment is validated, so a typo'd value fails loudly at the point of
    configuration instead of silently producing a strange benchmark. Changes apply
    to datagrams arriving from then on; those already in flight keep their
    schedule (so lowering `delay` lets new datagrams overtake old ones, as netem does).
    """

    delay: float = 0.0  # one-way propagation delay, seconds
    jitter: float = 0.0  # extra uniform(0, jitter) delay per datagram; reorders naturally
    loss: float = 0.0  # drop probability
    duplicate: float = 0.0  # probability that a datagram is sent twice
    reorder: float = 0.0  # probability of holding a datagram back an extra reorder_delay
    reorder_delay: float = 0.02
    rate: float | None = None  # bottleneck bandwidth in bytes/s; None = unlimited
    queue_bytes: int = 64 * 1024  # bottleneck queue size; tail drop beyond it
    blackout: bool = False  # drop everything

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__(name, _validated(name, value))

    def update(self, **fields: object) -> None:
        """Set several fields at once; all are validated before any is applied."""
        checked = {name: _validated(name, value) for name, value in fields.items()}
        for name, value in checked.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


IMPAIRMENT_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Impairment))


def _validated(name: str, value: object) -> object:
    if name not in IMPAIRMENT_FIELDS:
        raise AttributeError(f"Impairment has no field {name!r}")
    if name == "blackout":
        if not isinstance(value, bool):
            raise TypeError(f"blackout must be a bool, got {value!r}")
        return value
    if name == "rate" and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    if name in _PROBABILITIES and number > 1:
        raise ValueError(f"{name} is a probability, got {value!r}")
    if name == "rate" and number == 0:
        raise ValueError("rate must be > 0 (None means unlimited)")
    if name == "queue_bytes":
        if number < 1 or number != int(number):
            raise ValueError(f"queue_bytes must be a positive integer, got {value!r}")
        return int(number)
    return number


@dataclass
class DirectionStats:
    """Counters for one direction. `forwarded` counts datagrams actually sent,
    so duplicates count twice there (and once in `duplicated`)."""

    seen: int = 0
    forwarded: int = 0
    dropped: int = 0  # sum of the dropped_* reasons below
    dropped_blackout: int = 0
    dropped_loss: int = 0
    dropped_queue: int = 0  # rate queue overflow (tail drop)
    dropped_no_client: int = 0  # server spoke before any client did
    duplicated: int = 0
    send_errors: int = 0
    bytes_forwarded: int = 0
    # How late departures were relative to their schedule: a check on the proxy's
    # own timing precision, which benchmarks rely on.
    late_max: float = 0.0
    late_total: float = 0.0

    @property
    def late_mean(self) -> float:
        return self.late_total / self.forwarded if self.forwarded else 0.0

    def drop(self, reason: str) -> None:
        self.dropped += 1
        attribute = f"dropped_{reason}"
        setattr(self, attribute, getattr(self, attribute) + 1)

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "late_mean": self.late_mean}


@dataclass
class ProxyStats:
    up: DirectionStats = field(default_factory=DirectionStats)
    down: DirectionStats = field(default_factory=DirectionStats)
    stray: int = 0  # datagrams on upstream sockets that did not come from the server
    source_changes: int = 0  # new_source_port / new_source_address calls
    client_changes: int = 0  # times the client was seen at a new address

    def direction(self, name: Direction) -> DirectionStats:
        return self.up if name == "up" else self.down

    def as_dict(self) -> dict[str, Any]:
        return {
            "up": self.up.as_dict(),
            "down": self.down.as_dict(),
            "stray": self.stray,
            "source_changes": self.source_changes,
            "client_changes": self.client_changes,
        }


# ---------------------------------------------------------------------------
# The proxy
# ---------------------------------------------------------------------------


@dataclass(order=True)
class _Departure:
    at: float
    seq: int  # tie-breaker: equal times leave in arrival order
    direction: Direction = field(compare=False)
    payload: bytes = field(compare=False)


@dataclass
class _Upstream:
    sock: trio.socket.SocketType
    local: Address
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)


class _Link:
    """Per-direction state: settings, randomness, and the bottleneck's virtual clock."""

    def __init__(self, impairment: Impairment, rng: random.Random) -> None:
        self.impairment = impairment
        self.rng = rng
        # When the bottleneck finishes transmitting everything already queued. The
        # queue is virtual: its backlog in bytes is (busy_until - now) * rate.
        self.busy_until = 0.0

    def admit(self, size: int, now: float) -> float | None:
        """Departure time from the bottleneck, or None if the queue is full."""
        rate = self.impairment.rate
        if rate is None:
            return now
        start = max(now, self.busy_until)
        backlog = (start - now) * rate
        if backlog + size > self.impairment.queue_bytes:
            return None
        self.busy_until = start + size / rate
        return self.busy_until

    def path_delay(self) -> float:
        imp = self.impairment
        delay = imp.delay
        if imp.jitter:
            delay += self.rng.uniform(0.0, imp.jitter)
        if imp.reorder and self.rng.random() < imp.reorder:
            delay += imp.reorder_delay
        return delay


class ImpairmentProxy:
    """One client, one server, impairments per direction. Create with `open_proxy`."""

    def __init__(
        self,
        server: tuple[str, int],
        *,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        seed: int | str | None = None,
        up: Impairment | None = None,
        down: Impairment | None = None,
        retire_after: float = 1.0,
    ) -> None:
        self.server: Address = check_loopback_address(server)
        self._listen_request: Address = check_loopback_address(listen)
        if retire_after < 0:
            raise ValueError("retire_after must be >= 0")
        self.retire_after = retire_after
        self.stats = ProxyStats()
        # One generator per direction, so the up decisions for a given seed do not
        # depend on how much traffic happened to flow down.
        if seed is None:
            seed = random.SystemRandom().getrandbits(64)
        self.seed = seed
        self._links: dict[Direction, _Link] = {
            "up": _Link(up or Impairment(), random.Random(f"{seed!r}:up")),
            "down": _Link(down or Impairment(), random.Random(f"{seed!r}:down")),
        }
        self.client_address: Address | None = None
        self._listen_sock: trio.socket.SocketType | None = None
        self._upstream: _Upstream | None = None
        self._upstreams: list[_Upstream] = []  # current one plus any still retiring
        self._nursery: trio.Nursery | None = None
        self._heap: list[_Departure] = []
        self._seq = itertools.count()
        self._wakeup = trio.Event()

    # -- public API --------------------------------------------------------

    @property
    def address(self) -> Address:
        """Where the client should send (the proxy's listening address)."""
        assert self._listen_sock is not None, "proxy not started"
        return _local_address(self._listen_sock)

    @property
    def source_address(self) -> Address:
        """The address the server currently sees the client at."""
        assert self._upstream is not None, "proxy not started"
        return self._upstream.local

    @property
    def up(self) -> Impairment:
        """Client → server settings; mutate in place (``proxy.up.loss = 0.29``)."""
        return self._links["up"].impairment

    @up.setter
    def up(self, impairment: Impairment) -> None:
        self._links["up"].impairment = impairment

    @property
    def down(self) -> Impairment:
        """Server → client settings."""
        return self._links["down"].impairment

    @down.setter
    def down(self, impairment: Impairment) -> None:
        self._links["down"].impairment = impairment

    def impairment(self, direction: Direction) -> Impairment:
        return self._links[direction].impairment

    def set(self, direction: Direction | Literal["both"], **fields: object) -> None:
        """Update impairment fields on one direction or both."""
        targets = DIRECTIONS if direction == "both" else (direction,)
        if any(name not in DIRECTIONS for name in targets):
            raise ValueError(f"direction must be up, down or both, got {direction!r}")
        for name in targets:
            self.impairment(name).update(**fields)

    def blackout(self, on: bool = True) -> None:
        """Drop everything in both directions (datagrams already in flight still land)."""
        self.set("both", blackout=on)

    async def new_source_port(self) -> Address:
        """Send to the server from a fresh port, as after a NAT rebinding."""
        return await self._replace_upstream(self.source_address[0])

    async def new_source_address(self, host: str) -> Address:
        """Send to the server from another loopback IP, as after moving networks."""
        host = check_loopback(host)
        if _family(host) != _family(self.server[0]):
            raise ValueError(f"{host} is not the same address family as the server")
        return await self._replace_upstream(host)

    # -- lifecycle ---------------------------------------------------------

    async def _start(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        host, port = self._listen_request
        sock = trio.socket.socket(_family(host), socket.SOCK_DGRAM)
        _grow_buffers(sock)
        await sock.bind((host, port))
        self._listen_sock = sock
        nursery.start_soon(self._receive_client, sock)
        nursery.start_soon(self._deliver)
        await self._open_upstream(_default_source(self.server[0]))

    def _close(self) -> None:
        if self._listen_sock is not None:
            self._listen_sock.close()
        for upstream in self._upstreams:
            upstream.sock.close()

    async def _open_upstream(self, host: str) -> Address:
        assert self._nursery is not None
        sock = trio.socket.socket(_family(host), socket.SOCK_DGRAM)
        _grow_buffers(sock)
        try:
            await sock.bind((host, 0))
        except OSError:
            sock.close()
            raise
        upstream = _Upstream(sock, _local_address(sock))
        self._upstream = upstream
        self._upstreams.append(upstream)
        self._nursery.start_soon(self._receive_server, upstream)
        return upstream.local

    async def _replace_upstream(self, host: str) -> Address:
        old = self._upstream
        local = await self._open_upstream(host)
        self.stats.source_changes += 1
        if old is not None:
            # Like a NAT mapping that lingers: late replies to the old port still get
            # through for a moment, then the port is gone for good.
            assert self._nursery is not None
            self._nursery.start_soon(self._retire, old)
        return local

    async def _retire(self, upstream: _Upstream) -> None:
        await trio.sleep(self.retire_after)
        upstream.scope.cancel()
        upstream.sock.close()
        self._upstreams.remove(upstream)

    # -- datagram flow -----------------------------------------------------

    async def _receive_client(self, sock: trio.socket.SocketType) -> None:
        while True:
            data, source = await sock.recvfrom(_MAX_DATAGRAM)
            address: Address = (source[0], source[1])
            if address != self.client_address:
                # The proxy roams with the client: replies go wherever it last spoke from.
                if self.client_address is not None:
                    self.stats.client_changes += 1
                self.client_address = address
            self._ingress("up", data)

    async def _receive_server(self, upstream: _Upstream) -> None:
        with upstream.scope:
            while True:
                data, source = await upstream.sock.recvfrom(_MAX_DATAGRAM)
                if (check_loopback(source[0]), source[1]) != self.server:
                    self.stats.stray += 1
                    continue
                self._ingress("down", data)

    def _ingress(self, direction: Direction, data: bytes) -> None:
        """Decide a datagram's fate the moment it arrives."""
        link = self._links[direction]
        stats = self.stats.direction(direction)
        stats.seen += 1
        if link.impairment.blackout:
            stats.drop("blackout")
            return
        if link.impairment.loss and link.rng.random() < link.impairment.loss:
            stats.drop("loss")
            return
        copies = 1
        if link.impairment.duplicate and link.rng.random() < link.impairment.duplicate:
            copies = 2
            stats.duplicated += 1
        now = trio.current_time()
        for _ in range(copies):
            # Bottleneck first, then propagation: the queue sits at the link's entry.
            leaves_queue = link.admit(len(data), now)
            if leaves_queue is None:
                stats.drop("queue")
                continue
            departs = leaves_queue + link.path_delay()
            self._schedule(_Departure(departs, next(self._seq), direction, data))

    def _schedule(self, departure: _Departure) -> None:
        heapq.heappush(self._heap, departure)
        if self._heap[0] is departure:
            self._wakeup.set()  # the deliverer is sleeping toward a later deadline

    async def _deliver(self) -> None:
        """Single timer for all departures: sleep until the earliest, send all due."""
        while True:
            if not self._heap:
                await self._wait_for_schedule(math.inf)
                continue
            due = self._heap[0].at
            if trio.current_time() < due:
                await self._wait_for_schedule(due)
                continue
            departure = heapq.heappop(self._heap)
            await self._send(departure)

    async def _wait_for_schedule(self, deadline: float) -> None:
        with trio.move_on_at(deadline):
            await self._wakeup.wait()
        if self._wakeup.is_set():
            self._wakeup = trio.Event()

    async def _send(self, departure: _Departure) -> None:
        stats = self.stats.direction(departure.direction)
        if departure.direction == "up":
            assert self._upstream is not None
            sock, destination = self._upstream.sock, self.server
        else:
            if self.client_address is None:
                stats.drop("no_client")
                return
            assert self._listen_sock is not None
            sock, destination = self._listen_sock, self.client_address
        late = trio.current_time() - departure.at
        try:
            await sock.sendto(departure.payload, destination)
        except OSError:
            # e.g. ECONNREFUSED surfacing from an earlier ICMP error: the network
            # does not care, so neither does the proxy.
            stats.send_errors += 1
            return
        stats.forwarded += 1
        stats.bytes_forwarded += len(departure.payload)
        stats.late_total += late
        stats.late_max = max(stats.late_max, late)


def _local_address(sock: trio.socket.SocketType) -> Address:
    name = sock.getsockname()
    return (name[0], name[1])


def _default_source(server_host: str) -> str:
    return "::1" if _family(server_host) == socket.AF_INET6 else "127.0.0.1"


def _grow_buffers(sock: trio.socket.SocketType) -> None:
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        # The kernel clamps (or refuses) big requests; the default buffer still works.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, option, _SOCKET_BUFFER)


@asynccontextmanager
async def open_proxy(
    server: tuple[str, int],
    *,
    listen: tuple[str, int] = ("127.0.0.1", 0),
    seed: int | str | None = None,
    up: Impairment | None = None,
    down: Impairment | None = None,
    retire_after: float = 1.0,
) -> AsyncIterator[ImpairmentProxy]:
    """Run an impairment proxy for the duration of the block.

    `retire_after` is how long an abandoned upstream socket keeps receiving after
    `new_source_port` / `new_source_address`.
    """
    proxy = ImpairmentProxy(
        server, listen=listen, seed=seed, up=up, down=down, retire_after=retire_after
    )
    try:
        async with trio.open_nursery() as nursery:
            await proxy._start(nursery)
            try:
                yield proxy
            finally:
                nursery.cancel_scope.cancel()
    finally:
        proxy._close()
