"""Which session a datagram arriving on one of the daemon's UDP ports is for. Sans-IO: the
caller passes the datagram, its source and the time; tests drive it without sockets.

Native datagrams carry their connection id in the clear (its top bit always set,
`ssp.datagram.looks_native`): one table lookup, and an unknown id is dropped. A native datagram
never costs a decryption here.

A stock client's datagram (protocol 2) carries no session id. It is routed
1. by its source address: the session whose client was last heard from that address (the
   session tells the router when its endpoint takes a new peer address, `note_peer`); one
   decryption, as a native datagram's costs in its session;
2. on a miss, or when that session's key does not open it, by trial: at most
   `max_trials` stock sessions of this port try their key, the likeliest first (sessions
   never heard from, newest first, then the most recently heard; a new client and a client
   that just roamed are those), the rest in turn across datagrams so that every session is
   reached by a client that keeps retrying. Trials draw on a per-port token bucket
   (`trial_rate` per second, `trial_burst` at once): when it is empty, unknown stock datagrams
   are dropped, as if lost, so a flood of garbage costs at most that many decryptions a
   second. A real client retries.

A datagram a key opened is delivered already opened (`Endpoint.receive_packet`), never
decrypted twice. Datagrams shorter than any protocol-2 datagram can be are dropped at once.
Drops are counted by reason (`RouteDrops`); the budget running dry is logged (at most once
a minute, with the counts), never anything of a datagram's content.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass, fields

import structlog

from ssp.crypto import AuthenticationFailed
from ssp.datagram import Packet, looks_native, peek_connection_id
from ssp.proto2.wire import DATAGRAM_OVERHEAD

Address = tuple[object, ...]
Deliver = Callable[[bytes, Address], None]

MAX_TRIALS = 8  # stock sessions tried per datagram from an unknown address
LIKELIEST = 4  # of which the likeliest; the others in turn
TRIAL_RATE = 2000.0  # trial decryptions per second per port (~1-2 % of a core)
TRIAL_BURST = 200.0
BUDGET_LOG_INTERVAL = 60.0


@dataclass(eq=False)
class StockRoute:
    """A protocol-2 attachment as the router sees it."""

    open: Callable[[bytes], Packet]  # its wire's `open`: raises if its key does not open it
    deliver: Callable[[Packet, Address], None]
    last_heard: Callable[[], float | None]
    address: Hashable | None = None  # its entry in the address table


@dataclass
class RouteDrops:
    """Datagrams no session got, by reason."""

    runt: int = 0  # too short for either protocol
    unknown_id: int = 0  # native, and no session has that connection id
    no_stock_session: int = 0  # stock-looking, and the port has no stock session
    over_budget: int = 0  # stock, unknown address, and the trial budget was spent
    unmatched: int = 0  # stock, and no key tried opened it

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))


class TokenBucket:
    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at = now

    def take(self, now: float) -> bool:
        if now > self._at:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class Router:
    def __init__(
        self,
        now: float = 0.0,
        max_trials: int = MAX_TRIALS,
        trial_rate: float = TRIAL_RATE,
        trial_burst: float = TRIAL_BURST,
        log: structlog.typing.FilteringBoundLogger | None = None,
    ) -> None:
        self.routes: dict[int, Deliver] = {}  # native: connection id -> its attachment
        self.stock: list[StockRoute] = []  # in the order they were added
        self.by_address: dict[Hashable, StockRoute] = {}
        self.max_trials = max_trials
        self.budget = TokenBucket(trial_rate, trial_burst, now)
        self.drops = RouteDrops()
        self.trials = 0  # trial decryptions made (address-table hits not counted)
        self._turn = 0  # where the next datagram's "in turn" candidates start
        self._log = log if log is not None else structlog.get_logger("moshd.routing")
        self._budget_logged_at = -BUDGET_LOG_INTERVAL

    @property
    def has_routes(self) -> bool:
        return bool(self.routes or self.stock)

    # --- stock routes -------------------------------------------------------------------
    def add_stock(self, route: StockRoute) -> None:
        self.stock.append(route)

    def remove_stock(self, route: StockRoute) -> None:
        if route in self.stock:
            self.stock.remove(route)
        if route.address is not None and self.by_address.get(route.address) is route:
            del self.by_address[route.address]
        route.address = None

    def note_peer(self, route: StockRoute, address: Hashable) -> None:
        """The route's endpoint now talks to `address` (it judged a datagram from there the
        newest authentic one): datagrams from there go to it first."""
        if route not in self.stock:
            return  # already removed
        if route.address is not None and self.by_address.get(route.address) is route:
            del self.by_address[route.address]
        route.address = address
        self.by_address[address] = route

    # --- routing ------------------------------------------------------------------------
    def route(self, data: bytes, addr: Address, now: float) -> None:
        """Hand the datagram to its session, or count why not. Never raises (a route's own
        `deliver` must not either)."""
        if looks_native(data):
            conn_id = peek_connection_id(data)
            deliver = self.routes.get(conn_id) if conn_id is not None else None
            if deliver is None:
                if conn_id is None:
                    self.drops.runt += 1
                else:
                    self.drops.unknown_id += 1
                return
            deliver(data, addr)
            return
        if len(data) < DATAGRAM_OVERHEAD:
            self.drops.runt += 1
            return
        if not self.stock:
            self.drops.no_stock_session += 1
            return
        known = self.by_address.get(addr)
        if known is not None and self._try(known, data, addr):
            return
        self._trial(data, addr, now, known)

    def _try(self, route: StockRoute, data: bytes, addr: Address) -> bool:
        try:
            packet = route.open(data)
        except (AuthenticationFailed, ValueError):  # ValueError: DatagramError
            return False
        route.deliver(packet, addr)
        return True

    def _trial(self, data: bytes, addr: Address, now: float, tried: StockRoute | None) -> None:
        candidates = self._candidates(tried)
        if not candidates:
            self.drops.unmatched += 1
            return
        for route in candidates:
            if not self.budget.take(now):
                self.drops.over_budget += 1
                if now - self._budget_logged_at >= BUDGET_LOG_INTERVAL:
                    self._budget_logged_at = now
                    self._log.warning(
                        "udp.trial_budget_exhausted",
                        stock_sessions=len(self.stock),
                        trials=self.trials,
                        **asdict(self.drops),
                    )
                return
            self.trials += 1
            if self._try(route, data, addr):
                return
        self.drops.unmatched += 1

    def _candidates(self, tried: StockRoute | None) -> list[StockRoute]:
        routes = [route for route in self.stock if route is not tried]
        if len(routes) <= self.max_trials:
            return sorted(reversed(routes), key=self._likelihood, reverse=True)
        # The likeliest few, then the others in turn.
        ranked = sorted(range(len(routes)), key=lambda i: self._likelihood(routes[i]))
        ranked.reverse()
        likeliest = ranked[:LIKELIEST]
        chosen = set(likeliest)
        rest = [i for i in range(len(routes)) if i not in chosen]
        take = self.max_trials - len(likeliest)
        start = self._turn % len(rest)
        in_turn = (rest[start:] + rest[:start])[:take]
        self._turn = start + take
        return [routes[i] for i in likeliest + in_turn]

    def _likelihood(self, route: StockRoute) -> tuple[bool, float]:
        """Never heard from first (a new client), then the most recently heard (a client that
        just roamed was heard a moment ago from its old address). Ties: newest route first
        (`sorted` is stable and the list is reversed, so later-added ranks higher)."""
        heard = route.last_heard()
        return (heard is None, heard if heard is not None else 0.0)
