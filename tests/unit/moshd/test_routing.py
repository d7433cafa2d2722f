"""moshd.routing: native datagrams by connection id, stock ones by address then bounded trial."""

from __future__ import annotations

from collections.abc import Hashable

import structlog

from moshd.routing import Router, StockRoute
from ssp.crypto import AuthenticationFailed
from ssp.datagram import Packet
from ssp.proto2.wire import DATAGRAM_OVERHEAD

NATIVE_ID = 0x8123456789ABCDEF
ADDR = ("127.0.0.1", 50000)


class FakeStock:
    """A stock attachment whose "key" opens exactly the datagrams that start with its tag."""

    def __init__(self, tag: bytes, heard: float | None = None) -> None:
        self.tag = tag
        self.heard = heard
        self.opens = 0
        self.delivered: list[tuple[Packet, Hashable]] = []
        self.route = StockRoute(self.open, self.deliver, lambda: self.heard)

    def open(self, data: bytes) -> Packet:
        self.opens += 1
        if not data.startswith(self.tag):
            raise AuthenticationFailed("not mine")
        return Packet(0, 0, 1, 0, 0, data)

    def deliver(self, packet: Packet, addr: tuple[object, ...]) -> None:
        self.delivered.append((packet, addr))


def _stock_datagram(tag: bytes) -> bytes:
    return tag + bytes(DATAGRAM_OVERHEAD + 20 - len(tag))  # top bit of byte 0 clear


def _native_datagram(conn_id: int = NATIVE_ID) -> bytes:
    return conn_id.to_bytes(8, "big") + bytes(60)


def _router(*stocks: FakeStock, **kwargs: float) -> Router:
    router = Router(0.0, **kwargs)  # type: ignore[arg-type]
    for stock in stocks:
        router.add_stock(stock.route)
    return router


def test_native_datagrams_go_by_connection_id_and_never_cost_a_decryption() -> None:
    stocks = [FakeStock(b"s%d" % n) for n in range(5)]
    router = _router(*stocks)
    got: list[bytes] = []
    router.routes[NATIVE_ID] = lambda data, addr: got.append(data)
    router.route(_native_datagram(), ADDR, 1.0)
    router.route(_native_datagram(NATIVE_ID + 1), ADDR, 1.0)  # unknown id: dropped
    assert got == [_native_datagram()]
    assert router.drops.unknown_id == 1
    assert sum(stock.opens for stock in stocks) == 0 and router.trials == 0


def test_a_known_source_address_costs_one_decryption() -> None:
    one, two, three = FakeStock(b"one", heard=5.0), FakeStock(b"two"), FakeStock(b"three")
    router = _router(one, two, three)
    router.note_peer(two.route, ADDR)
    router.route(_stock_datagram(b"two"), ADDR, 1.0)
    assert len(two.delivered) == 1 and two.opens == 1
    assert one.opens == three.opens == 0 and router.trials == 0


def test_a_new_address_is_found_by_trial_and_delivered_opened() -> None:
    old, new = FakeStock(b"old", heard=1.0), FakeStock(b"new")
    router = _router(old, new)
    router.note_peer(old.route, ADDR)
    router.route(_stock_datagram(b"new"), ("127.0.0.2", 1), 2.0)
    assert [addr for _, addr in new.delivered] == [("127.0.0.2", 1)]
    assert new.opens == 1  # opened once, delivered as a packet: never decrypted twice
    # The never-heard session is tried first (a new client is the likeliest).
    assert old.opens == 0 and router.trials == 1


def test_a_failed_open_at_the_known_address_falls_back_to_trial() -> None:
    one, two = FakeStock(b"one", heard=1.0), FakeStock(b"two", heard=2.0)
    router = _router(one, two)
    router.note_peer(one.route, ADDR)  # e.g. the port was reused by another client
    router.route(_stock_datagram(b"two"), ADDR, 3.0)
    assert len(two.delivered) == 1 and one.opens == 1 and router.trials == 1


def test_trials_per_datagram_are_bounded() -> None:
    stocks = [FakeStock(b"s%02d" % n, heard=float(n)) for n in range(50)]
    router = _router(*stocks, max_trials=8)
    router.route(_stock_datagram(b"garbage"), ADDR, 1.0)
    assert sum(stock.opens for stock in stocks) == 8 == router.trials
    assert router.drops.unmatched == 1


def test_every_session_is_reached_by_a_client_that_keeps_retrying() -> None:
    stocks = [FakeStock(b"s%02d" % n, heard=100.0 - n) for n in range(50)]
    router = _router(*stocks, max_trials=8)
    target = stocks[-1]  # the least likely of all
    for attempt in range(20):
        router.route(_stock_datagram(target.tag), ("127.0.0.9", 9), 1.0 + attempt)
        if target.delivered:
            break
    assert target.delivered, "never found"
    assert attempt <= 50 // 4  # four new candidates per datagram


def test_a_garbage_flood_is_held_to_the_trial_budget() -> None:
    stocks = [FakeStock(b"s%d" % n) for n in range(8)]
    router = _router(*stocks, trial_rate=100.0, trial_burst=10.0)
    with structlog.testing.capture_logs() as logs:
        for n in range(10_000):  # one second of a 10k datagram/s flood
            router.route(_stock_datagram(b"junk"), ("203.0.113.1", n), n / 10_000)
    [warning] = [entry for entry in logs if entry["event"] == "udp.trial_budget_exhausted"]
    assert warning["over_budget"] >= 1 and "junk" not in repr(warning)  # once, counts only
    assert router.trials <= 10 + 100 + 1
    assert router.drops.over_budget >= 9_000
    # A real client's retry after the flood gets through.
    router.route(_stock_datagram(b"s3"), ("198.51.100.7", 1), 2.0)
    assert len(stocks[3].delivered) == 1


def test_garbage_stays_cheap() -> None:
    stock = FakeStock(b"s")
    router = _router(stock)
    router.route(b"\x00" * (DATAGRAM_OVERHEAD - 1), ADDR, 0.0)  # shorter than any stock datagram
    router.route(b"\x80" * 4, ADDR, 0.0)  # too short to be native
    router.route(b"", ADDR, 0.0)
    assert stock.opens == 0 and router.drops.runt == 3
    empty = Router(0.0)
    empty.route(_stock_datagram(b"x"), ADDR, 0.0)  # a port without stock sessions
    assert empty.drops.no_stock_session == 1 and empty.trials == 0


def test_a_removed_route_leaves_the_address_table() -> None:
    one, two = FakeStock(b"one"), FakeStock(b"two")
    router = _router(one, two)
    router.note_peer(one.route, ADDR)
    router.note_peer(one.route, ("127.0.0.2", 2))  # roamed: the old entry goes
    assert list(router.by_address) == [("127.0.0.2", 2)]
    router.remove_stock(one.route)
    assert router.by_address == {} and router.stock == [two.route]
    router.note_peer(one.route, ADDR)  # a late event for a removed route changes nothing
    assert router.by_address == {}
    assert router.has_routes
    router.remove_stock(two.route)
    assert not router.has_routes
