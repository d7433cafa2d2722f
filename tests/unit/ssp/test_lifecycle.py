"""How a connection ends: every way out of the shutdown handshake, reported once as `Closed`."""

from __future__ import annotations

from ssp.lifecycle import Closed, Ending, Phase
from ssp.timing import SERVER_ASSOCIATION_TIMEOUT, SHUTDOWN_MIN_WAIT
from ssp.transport import Endpoint, Event

from .simlink import LinkProfile, SimulatedSession


def _connected(seed: int) -> SimulatedSession:
    session = SimulatedSession(seed, LinkProfile(delay=0.02), LinkProfile(delay=0.02))
    session.type(b"a")
    session.run_until(session.now + 2.0)
    return session


def _closed(events: list[Event]) -> list[Closed]:
    return [event for event in events if isinstance(event, Closed)]


def _run_until_closed(session: SimulatedSession, endpoint: Endpoint, limit: float) -> None:
    end = session.now + limit
    while endpoint.phase is not Phase.CLOSED and session.now < end:
        session.run_until(session.now + 0.005)


def test_a_client_that_quits_is_acknowledged_and_the_server_closes_too() -> None:
    session = _connected(1)
    session.client.start_shutdown(session.now)
    assert session.client.phase is Phase.CLOSING
    _run_until_closed(session, session.server, limit=1.0)
    session.run_until(session.now + 0.1)
    assert _closed(session.server_events) == [Closed(Ending.PEER_CLOSED)]
    assert _closed(session.client_events) == [Closed(Ending.ACKNOWLEDGED)]
    assert session.client.phase is Phase.CLOSED and session.server.phase is Phase.CLOSED
    # Closed is final: nothing more goes out, no timer is left.
    assert session.client.datagrams_to_send(session.now + 5) == []
    assert session.client.next_deadline() == float("inf")
    assert session.server.next_deadline() == float("inf")


def test_a_goodbye_to_a_dead_client_is_abandoned_within_two_seconds() -> None:
    session = _connected(2)
    session.up.loss = 1.0  # the client is gone: nothing it sends arrives
    started = session.now
    session.server.start_shutdown(started)
    _run_until_closed(session, session.server, limit=5.0)
    assert _closed(session.server_events) == [Closed(Ending.GAVE_UP)]
    assert session.now - started <= SHUTDOWN_MIN_WAIT + 0.01


def test_a_goodbye_to_a_client_silent_past_the_association_timeout_ends_at_once() -> None:
    session = _connected(3)
    session.up.loss = 1.0
    session.run_until(session.now + SERVER_ASSOCIATION_TIMEOUT + 1.0)
    session.server.start_shutdown(session.now)
    assert session.server.take_events() == [Closed(Ending.UNREACHABLE)]
    assert session.server.phase is Phase.CLOSED


def test_a_client_that_never_heard_its_server_quits_at_once() -> None:
    session = SimulatedSession(4, LinkProfile(loss=1.0), LinkProfile(loss=1.0))
    session.type(b"x")
    session.run_until(session.now + 1.0)
    session.client.start_shutdown(session.now)
    assert session.client.take_events() == [Closed(Ending.UNREACHABLE)]


def test_a_server_nobody_attached_to_closes_without_a_goodbye() -> None:
    session = SimulatedSession(5, LinkProfile(), LinkProfile())
    session.server.start_shutdown(session.now)
    assert session.server.take_events() == [Closed(Ending.UNREACHABLE)]


def test_the_end_is_reported_once_on_each_side() -> None:
    session = _connected(6)
    session.server.start_shutdown(session.now)
    session.server.start_shutdown(session.now)  # a second request changes nothing
    session.client.start_shutdown(session.now)  # nor does the client's, once the server's came
    session.run_until(session.now + 5.0)
    assert _closed(session.server_events) == [Closed(Ending.ACKNOWLEDGED)]
    assert len(_closed(session.client_events)) == 1
