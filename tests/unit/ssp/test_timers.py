"""Transport timers with injected time: pacing, retransmission, heartbeats, shutdown."""

from __future__ import annotations

import itertools

import pytest

from ssp.lifecycle import Closed, Ending, Phase
from ssp.screen import DEFAULT_RENDITION, Row
from ssp.timing import ACK_DELAY, ACK_INTERVAL, SHUTDOWN_RETRIES, RttEstimator, Timers
from ssp.userstream import Keystroke, UserEvent

from .simlink import LinkProfile, SimulatedSession


@pytest.mark.parametrize(
    ("srtt_ms", "interval_ms"),
    [(0.0, 20), (10.0, 20), (41.0, 21), (100.0, 50), (300.0, 150), (499.0, 250), (4000.0, 250)],
)
def test_send_interval_is_half_srtt_within_bounds(srtt_ms: float, interval_ms: int) -> None:
    rtt = RttEstimator()
    rtt.add_sample(srtt_ms)
    assert rtt.send_interval == pytest.approx(interval_ms / 1000)


def test_rtt_estimator_follows_rfc6298_and_ignores_huge_samples() -> None:
    rtt = RttEstimator()
    assert (rtt.srtt_ms, rtt.rttvar_ms) == (1000.0, 500.0)  # before any sample
    rtt.add_sample(100.0)
    assert (rtt.srtt_ms, rtt.rttvar_ms) == (100.0, 50.0)
    rtt.add_sample(200.0)
    assert rtt.srtt_ms == pytest.approx(112.5)
    assert rtt.rttvar_ms == pytest.approx(62.5)
    assert not rtt.add_sample(6000.0)
    assert rtt.srtt_ms == pytest.approx(112.5)
    assert rtt.rto == pytest.approx(0.363)
    rtt.add_sample(1.0)
    for _ in range(50):
        rtt.add_sample(1.0)
    assert rtt.rto == pytest.approx(0.050)  # floor


def _server_send_times(rtt_ms: float, duration: float) -> list[float]:
    """Change the server's screen every millisecond; when does it send?"""
    one_way = rtt_ms / 2000
    session = SimulatedSession(1, LinkProfile(delay=one_way), LinkProfile(delay=one_way))
    session.type(b"x")
    session.run_until(session.now + 5.0)  # RTT measured by now
    sends: list[float] = []
    end = session.now + duration
    counter = 0
    while session.now < end:
        counter += 1
        screen = session.server.local_state.copy()
        screen.title = str(counter)
        session.server.set_local_state(screen, session.now)
        out = session.server.datagrams_to_send(session.now)
        if out:
            sends.append(session.now)
        for data, _ in out:
            session.client.receive_datagram(data, ("server",), session.now + one_way)
        for data, _ in session.client.datagrams_to_send(session.now):
            session.server.receive_datagram(data, ("client",), session.now + one_way)
        session.now += 0.001
    return sends


@pytest.mark.parametrize(("rtt_ms", "interval"), [(2.0, 0.020), (120.0, 0.060), (800.0, 0.250)])
def test_frames_follow_srtt_under_a_flood(rtt_ms: float, interval: float) -> None:
    sends = _server_send_times(rtt_ms, duration=3.0)
    gaps = [b - a for a, b in itertools.pairwise(sends)]
    assert len(gaps) > 5
    median = sorted(gaps)[len(gaps) // 2]
    assert median == pytest.approx(interval, abs=0.003)
    assert min(gaps) >= 0.020 - 1e-9  # never more than 50 frames a second


def test_lost_keystroke_is_retransmitted_after_rto() -> None:
    session = SimulatedSession(2, LinkProfile(delay=0.05), LinkProfile(delay=0.05))
    session.type(b"a")
    session.run_until(session.now + 5.0)  # measured RTT: 100 ms
    # Wait for a moment when the server has acknowledged every client state: a state still in
    # flight past its RTO would (rightly) make the client resend at every frame instead.
    while len(session.client._sender.sent) > 1:
        session.run_until(session.now + 0.01)
    rto = session.client.rtt.rto
    session.up.loss = 1.0
    session.type(b"b")
    first = session.now
    sent_before = len(session.sent_headers)
    session.run_until(first + 0.01)
    assert len(session.sent_headers) > sent_before  # sent at once, and lost
    lost_at = session.now
    session.up.loss = 0.0
    session.run_until(first + rto + ACK_DELAY - 0.01)
    assert session.received == [Keystroke(b"a")]  # not yet: waiting for the ack
    session.run_until(first + rto + ACK_DELAY + 0.25)
    assert session.received == [Keystroke(b"a"), Keystroke(b"b")]
    assert lost_at - first < 0.01


def test_idle_heartbeat_every_three_seconds() -> None:
    session = SimulatedSession(3, LinkProfile(delay=0.01), LinkProfile(delay=0.01))
    session.type(b"a")
    session.run_until(session.now + 5.0)
    start = len(session.sent_headers)
    session.run_until(session.now + 30.0)
    sent = len(session.sent_headers) - start
    # one datagram per side per ACK_INTERVAL (each heartbeat is itself data-free)
    assert 2 * (30 / ACK_INTERVAL) - 2 <= sent <= 2 * (30 / ACK_INTERVAL) + 2
    assert session.client.last_heard is not None
    assert session.now - session.client.last_heard <= ACK_INTERVAL + 0.1


def test_the_endpoints_timers_set_the_heartbeat_not_the_module_constant() -> None:
    short = Timers(ack_interval=0.5)
    session = SimulatedSession(3, LinkProfile(delay=0.01), LinkProfile(delay=0.01), timers=short)
    session.type(b"a")
    session.run_until(session.now + 2.0)
    start = len(session.sent_headers)
    session.run_until(session.now + 10.0)
    sent = len(session.sent_headers) - start
    assert 2 * (10 / 0.5) - 2 <= sent <= 2 * (10 / 0.5) + 2


def test_shutdown_is_acknowledged_by_a_live_peer() -> None:
    session = SimulatedSession(4, LinkProfile(delay=0.02), LinkProfile(delay=0.02))
    session.type(b"a")
    session.run_until(session.now + 2.0)
    session.client.start_shutdown(session.now)
    started = session.now
    while not session.client.shutdown_acknowledged() and session.now < started + 1.0:
        session.run_until(session.now + 0.005)
    assert session.now - started < 0.2  # one round trip and a frame or two

    def from_client() -> int:
        return sum(1 for header in session.sent_headers if not header[16] & 0x80)  # direction

    sent_after_ack = from_client()
    session.run_until(session.now + 1.0)
    assert from_client() == sent_after_ack  # the client has gone quiet
    assert session.server.counterparty_shutdown_ack_sent()
    assert session.client.shutdown_acknowledged()
    assert not session.client.shutdown_ack_timed_out(session.now)
    kinds = {type(e).__name__ for e in session.server_events}
    assert "ShutdownRequested" in kinds
    assert Closed(Ending.ACKNOWLEDGED) in session.client_events
    assert session.client.phase is Phase.CLOSED


def test_shutdown_is_abandoned_after_the_retry_limit() -> None:
    session = SimulatedSession(5, LinkProfile(delay=0.02), LinkProfile(delay=0.02))
    session.type(b"a")
    session.run_until(session.now + 2.0)
    session.up.loss = 1.0  # the server is gone
    session.client.start_shutdown(session.now)
    started = session.now
    before = len(session.sent_headers)
    interval = session.client.rtt.send_interval
    # One try per frame interval (upstream's rule), so a dead server costs 16 intervals.
    while not session.client.shutdown_ack_timed_out(session.now):
        assert len(session.sent_headers) - before < SHUTDOWN_RETRIES
        session.run_until(session.now + 0.005)
    assert len(session.sent_headers) - before == SHUTDOWN_RETRIES
    assert session.now - started <= SHUTDOWN_RETRIES * interval + 0.05
    assert not session.client.shutdown_acknowledged()


@pytest.mark.parametrize("rtt_ms", [250.0, 500.0])
def test_the_answer_to_input_skips_flood_pacing(rtt_ms: float) -> None:
    one_way = rtt_ms / 2000
    session = SimulatedSession(9, LinkProfile(delay=one_way), LinkProfile(delay=one_way))
    session.type(b"x")
    session.run_until(session.now + 5.0)
    answered_at: dict[str, float] = {}

    def answer(events: list[UserEvent]) -> None:
        screen = session.server.local_state.copy()
        screen.title = f"answer {len(answered_at)}"
        session.server.set_local_state(screen, session.now)
        answered_at[screen.title] = session.now

    session.on_server_input = answer
    # Keystrokes 0.33 s apart land at every phase of the flood's frame interval.
    key_times = [session.now + 0.5 + 0.33 * k for k in range(6)]
    seen_at: dict[str, float] = {}
    counter = 0
    end = key_times[-1] + 1.0
    while session.now < end:
        counter += 1
        screen = session.server.local_state.copy()
        screen.rows[0] = Row(tuple(str(counter).ljust(40)[:40]), (DEFAULT_RENDITION,) * 40)
        session.server.set_local_state(screen, session.now)  # the flood goes on and on
        if key_times and session.now >= key_times[0]:
            key_times.pop(0)
            session.type(b"\x03")
        session.run_until(session.now + 0.001)
        seen_at.setdefault(session.client.remote_state.title, session.now)
    assert session.server.rtt.send_interval >= 0.1  # a slow link: flood frames far apart
    delays = [seen_at[title] - at - one_way for title, at in answered_at.items()]
    assert len(delays) == 6
    mindelay = session.server._sender._send_mindelay
    # One collection delay (plus the 20 ms floor after a flood frame), never a frame interval.
    assert max(delays) <= mindelay + 0.021 + 0.002, delays


def test_an_isolated_echo_is_not_delayed_by_a_recent_ack() -> None:
    session = SimulatedSession(10, LinkProfile(delay=0.125), LinkProfile(delay=0.125))
    session.type(b"a")
    session.run_until(session.now + 5.0)
    latencies = []
    for _ in range(10):
        typed_at = session.now
        session.type(b"b")
        count = len(session.typed)
        while session.client.remote_state.rows[-1].text.rstrip().count("b") < count - 1:
            session.run_until(session.now + 0.001)
        latencies.append(session.now - typed_at)
        session.run_until(typed_at + 0.15)  # a key every 150 ms, as a person types
    # RTT plus the server's collection delay, never an extra frame interval (125 ms here).
    assert max(latencies) <= 0.25 + 0.015, latencies


def test_echo_ack_moves_only_for_states_that_carried_input() -> None:
    session = SimulatedSession(11, LinkProfile(delay=0.01), LinkProfile(delay=0.01))
    session.type(b"a")
    typed_num = session.client.last_sent_num + 1  # the state the keystroke goes out as
    session.run_until(session.now + 0.02)
    assert session.server.remote_state_num == typed_num
    assert session.server.echo_ack(session.now) == 0  # the application has had it < 50 ms
    due = session.server.echo_ack_time()
    assert due == pytest.approx(session.now + 0.05 - 0.01, abs=0.002)
    assert session.server.echo_ack(due) == typed_num
    # Acks and heartbeats are new states too, but without input: an echo_ack that followed
    # them would change the screen state at every ack, and an idle session would ping-pong.
    session.run_until(session.now + 10.0)
    assert session.server.remote_state_num > typed_num
    assert session.server.echo_ack(session.now) == typed_num
    assert session.server.echo_ack_time() == float("inf")
