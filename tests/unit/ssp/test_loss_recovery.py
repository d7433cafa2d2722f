"""Loss recovery: a lost datagram costs about a round trip, never a heartbeat interval.

The simulation is driven as an event loop drives an endpoint: only at `next_deadline()` and
when a datagram arrives, so a timer the endpoint forgets to report is a stall here too.
"""

from __future__ import annotations

import random
import statistics

import pytest

from ssp import transport
from ssp.screen import Framebuffer
from ssp.sender import Sender
from ssp.timing import ACK_DELAY, ACK_INTERVAL, REDUNDANCY_MIN_LOSS, LossEstimator, RttEstimator
from ssp.userstream import UserStream

from .simlink import LinkProfile, SimulatedSession

ONE_WAY = 0.05  # the link: 50 ms each way...
LOSS = 0.29  # ...losing 29 % of the datagrams in each direction (the mosh paper's figure)


def whole_lines(seed: int, lines: int = 15, loss: float = LOSS) -> list[float]:
    """A person writes a whole line at once (a paste, a fast typist) every 0.3 s after 2 s of
    quiet; return, for each line, the time until the client's screen shows it."""
    session = SimulatedSession(
        seed, LinkProfile(loss=loss, delay=ONE_WAY), LinkProfile(loss=loss, delay=ONE_WAY)
    )
    typed_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}

    def look(screen: Framebuffer) -> None:
        shown = screen.rows[-1].text.rstrip()
        for tag in typed_at:
            if tag not in seen_at and shown.endswith(tag):
                seen_at[tag] = session.now

    session.on_client_screen = look
    session.run_until(session.now + 2.0)
    for n in range(lines):
        tag = f"{n % 10}{chr(97 + n % 26)}{chr(65 + n % 26)}"
        typed_at[tag] = session.now
        session.type(tag.encode())
        session.run_until(session.now + 0.3)
        while tag not in seen_at and session.now < typed_at[tag] + 30:
            session.run_until(session.now + 0.3)
    return [seen_at[tag] - typed_at[tag] for tag in typed_at]


def test_whole_lines_through_heavy_loss_never_stall() -> None:
    times = sorted(t for seed in range(1, 61) for t in whole_lines(seed))
    mean = statistics.mean(times)
    p90 = times[int(0.9 * len(times))]
    # Without loss a line takes one round trip (0.1 s) plus the collection delays. With loss,
    # recovery follows the measured RTT: a loss is noticed from the peer's later traffic
    # (about one RTT) or at the RTO (SRTT + 4 RTTVAR + 100 ms ack delay, ~0.3 s here), and
    # small urgent datagrams go twice. Upstream's rules with a 1 s RTO before the first
    # sample give a mean near 0.37 s; the heartbeat-timer bug gave 3-6 s stalls.
    assert mean <= 0.25, (mean, times[-10:])
    assert p90 <= 0.45, (p90, times[-10:])
    # Over a second only after a run of losses before the first RTT sample, when the RTO is
    # still 1 s; never the 3 s heartbeat that a forgotten retransmission timer waits for.
    assert sum(t > 1.0 for t in times) <= 0.01 * len(times), times[-10:]
    assert times[-1] < 2.5, times[-10:]


def test_a_lost_datagram_is_resent_at_the_rto_not_the_heartbeat() -> None:
    session = SimulatedSession(2, LinkProfile(delay=ONE_WAY), LinkProfile(delay=ONE_WAY))
    session.type(b"a")
    session.run_until(session.now + 5.0)
    while len(session.client._sender.sent) > 1:  # everything acknowledged
        session.run_until(session.now + 0.01)
    session.up.loss = 1.0
    session.type(b"b")
    sent_at = session.now + 0.002
    assert session.client.datagrams_to_send(sent_at), "the keystroke goes at once"
    # The endpoint must report the retransmission as its next deadline: an event loop sleeps
    # until then, and nothing else would wake it before the 3 s heartbeat.
    deadline = session.client.next_deadline()
    assert session.now < deadline <= sent_at + session.client.rtt.rto + ACK_DELAY + 1e-6
    assert deadline < sent_at + ACK_INTERVAL


def test_the_first_keystroke_is_resent_before_anything_was_heard() -> None:
    # The server's first reply never comes: the client must not wait for a heartbeat.
    session = SimulatedSession(3, LinkProfile(loss=1.0, delay=ONE_WAY), LinkProfile(delay=ONE_WAY))
    session.type(b"x")
    first = len(session.sent_headers)
    session.run_until(session.now + 1.5)
    assert len(session.sent_headers) - first >= 2  # resent on the (1 s) RTO, not at 3 s


def _sender_with_one_frame_in_flight(rtt_ms: float | None) -> tuple[Sender[UserStream], float]:
    rtt = RttEstimator()
    if rtt_ms is not None:
        rtt.add_sample(rtt_ms)
    sender: Sender[UserStream] = Sender(UserStream(), rtt, now=100.0, send_mindelay=0.001)
    sender.last_heard = 100.0
    stream = UserStream()
    stream.push_keystroke(b"x")
    sender.set_current(stream, 100.0)
    sent: list[bytes] = []
    sender.tick(100.01, 1000, sent.append)
    assert sent
    return sender, 100.01


def test_a_peer_resending_what_we_acknowledged_gets_our_answer_again_at_once() -> None:
    # No RTT sample yet: the RTO is 1 s. A peer that resends a state we already acknowledged
    # shows that our acknowledgment (and the frame it rode on) was lost.
    sender, sent_at = _sender_with_one_frame_in_flight(rtt_ms=None)
    assert sender.next_deadline() >= sent_at + 1.0
    sender.note_peer_ack(0, sent_at + 0.2, peer_resent=False)
    assert sender.next_deadline() >= sent_at + 1.0  # nothing learned
    sender.note_peer_ack(0, sent_at + 0.2, peer_resent=True)
    assert sender.next_deadline() <= sent_at + 0.2 + sender._rtt.send_interval


def test_a_later_datagram_without_our_ack_means_our_frame_was_lost() -> None:
    sender, sent_at = _sender_with_one_frame_in_flight(rtt_ms=100.0)
    rto_deadline = sender.next_deadline()
    assert rto_deadline >= sent_at + 0.3
    sender.note_peer_ack(0, sent_at + 0.05, peer_resent=False)  # crossed ours in flight
    assert sender.next_deadline() == rto_deadline
    sender.note_peer_ack(0, sent_at + 0.16, peer_resent=False)  # sent after ours arrived
    assert sender.next_deadline() <= sent_at + 0.16 + sender._rtt.send_interval


def test_loss_estimate_is_zero_on_a_clean_link_and_no_datagram_goes_twice() -> None:
    session = SimulatedSession(5, LinkProfile(delay=ONE_WAY), LinkProfile(delay=ONE_WAY))
    for _ in range(40):
        session.type(b"abc")
        session.run_until(session.now + 0.3)
    assert session.client.loss.rate == 0.0 and session.server.loss.rate == 0.0
    assert len(set(session.sent_datagrams)) == len(session.sent_datagrams)


def test_reordering_alone_does_not_look_like_loss() -> None:
    estimate = LossEstimator()
    for _ in range(200):
        estimate.note_arrival(1)  # one datagram overtaken by the next...
        estimate.note_late_arrival()  # ...arrives right after it
        estimate.note_arrival(0)
    assert estimate.rate < 0.01


def test_loss_estimate_follows_the_link() -> None:
    session = SimulatedSession(
        6, LinkProfile(loss=LOSS, delay=ONE_WAY), LinkProfile(loss=LOSS, delay=ONE_WAY)
    )
    for _ in range(100):
        session.type(b"k")
        session.run_until(session.now + 0.1)
    client_estimates, server_estimates = [], []
    for _ in range(200):
        session.type(b"k")
        session.run_until(session.now + 0.1)
        client_estimates.append(session.client.loss.rate)
        server_estimates.append(session.server.loss.rate)
    assert 0.2 <= statistics.mean(client_estimates) <= 0.38
    assert 0.2 <= statistics.mean(server_estimates) <= 0.38


def test_redundancy_costs_only_small_urgent_datagrams(monkeypatch: pytest.MonkeyPatch) -> None:
    def bytes_sent(redundancy: bool) -> tuple[int, int]:
        if not redundancy:
            monkeypatch.setattr(transport, "REDUNDANCY_MIN_LOSS", 2.0)
        session = SimulatedSession(
            7, LinkProfile(loss=LOSS, delay=ONE_WAY), LinkProfile(loss=LOSS, delay=ONE_WAY)
        )
        for _ in range(100):
            session.type(b"ls -l\r")
            session.run_until(session.now + 0.3)
        monkeypatch.undo()
        copies = session.client.redundant_copies + session.server.redundant_copies
        return sum(map(len, session.sent_datagrams)), copies

    with_copies, copies = bytes_sent(redundancy=True)
    without, no_copies = bytes_sent(redundancy=False)
    assert copies > 100 and no_copies == 0
    # Copies replace some retransmissions; all told, never more than twice the bytes.
    assert with_copies <= 2 * without


def test_redundancy_makes_whole_lines_faster_through_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    with_copies = statistics.mean(t for seed in range(1, 21) for t in whole_lines(seed))
    monkeypatch.setattr(transport, "REDUNDANCY_MIN_LOSS", 2.0)
    without = statistics.mean(t for seed in range(1, 21) for t in whole_lines(seed))
    assert with_copies <= 0.8 * without, (with_copies, without)


def test_a_large_paste_is_not_sent_twice() -> None:
    session = SimulatedSession(
        8, LinkProfile(loss=LOSS, delay=ONE_WAY), LinkProfile(loss=LOSS, delay=ONE_WAY)
    )
    for _ in range(60):
        session.type(b"k")
        session.run_until(session.now + 0.1)
    assert session.client.loss.rate >= REDUNDANCY_MIN_LOSS
    before = session.client.redundant_copies
    noise = random.Random(8)
    session.type(bytes(noise.randrange(0x21, 0x7F) for _ in range(1500)))  # incompressible
    session.run_until(session.now + 0.005)
    assert session.client.redundant_copies == before


def test_heartbeats_alone_give_both_ends_a_round_trip_time() -> None:
    # A stamp is echoed with the time it was held added, so a 3 s heartbeat can answer one:
    # an idle session knows its RTT before the first keystroke (no 1 s RTO for it).
    session = SimulatedSession(9, LinkProfile(delay=ONE_WAY), LinkProfile(delay=ONE_WAY))
    session.run_until(session.now + 2 * ACK_INTERVAL + 0.5)
    assert session.client.rtt.sampled and session.server.rtt.sampled
    assert session.server.rtt.srtt_ms == pytest.approx(2000 * ONE_WAY, abs=3)


def test_paused_input_is_refused_then_delivered_once_when_resumed() -> None:
    # Backpressure: a server whose program does not read refuses new input; the client keeps
    # it and resends it, and nothing is lost or doubled when the server takes input again.
    session = SimulatedSession(12, LinkProfile(delay=ONE_WAY), LinkProfile(delay=ONE_WAY))
    session.type(b"a")
    session.run_until(session.now + 1.0)
    session.server.input_paused = True
    session.type(b"b")
    session.type(b"c")
    session.run_until(session.now + 3.0)
    assert [k.data for k in session.received] == [b"a"]  # type: ignore[union-attr]
    assert len(session.client._sender.sent) > 1  # unacknowledged: the client still holds it
    session.server.input_paused = False
    session.run_until(session.now + 2.0)
    assert session.received == session.typed
