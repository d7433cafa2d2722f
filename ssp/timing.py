"""Upstream mosh's timer constants and the RFC 6298 round-trip estimator.

Times are seconds (floats) everywhere in `ssp`, as the caller's monotonic clock gives them; RTT
figures are milliseconds because that is what the 16-bit wire timestamps measure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SEND_INTERVAL_MIN = 0.020  # never more than 50 frames a second
SEND_INTERVAL_MAX = 0.250  # never fewer than 4 frames a second when something changed
SERVER_SEND_MINDELAY = 0.008  # collection delay after the first change: batches output
CLIENT_SEND_MINDELAY = 0.001  # keystrokes go out almost at once
ACK_INTERVAL = 3.0  # heartbeat: an empty ack at least this often
ACK_DELAY = 0.100  # delayed ack for received data
ACTIVE_RETRY_TIMEOUT = 10.0  # stop retransmitting if the peer has been silent this long
SHUTDOWN_RETRIES = 16
SHUTDOWN_MIN_WAIT = 2.0  # an unanswered goodbye is abandoned after this, or two SRTTs if longer
SERVER_ASSOCIATION_TIMEOUT = 40.0  # server stops sending to a silent client
PORT_HOP_INTERVAL = 10.0  # client opens a new source port after this long without a round trip
# A peer's timestamp is echoed if it arrived this recently. Upstream's window is 1 s; the echo
# adds the time it was held, so it is exact however long it waited, and a window longer than
# the heartbeat lets idle heartbeats measure the RTT too: the first keystroke after a quiet
# start then meets a measured RTO, not the 1 s one of an estimator that never had a sample.
TIMESTAMP_REPLY_WINDOW = ACK_INTERVAL + 1.0
ECHO_TIMEOUT = 0.050  # echo_ack covers input the application has had at least this long

# Redundancy on lossy links: a datagram carrying user input (or the frame that answers it) goes
# out twice when at least this share of the peer's datagrams is missing, if it is this small.
REDUNDANCY_MIN_LOSS = 0.03
REDUNDANCY_MAX_BYTES = 600
LOSS_EWMA_WEIGHT = 1 / 32  # per datagram: the estimate follows roughly the last hundred


@dataclass(frozen=True, slots=True, kw_only=True)
class Timers:
    """The protocol's time constants that a test may want shorter, upstream's by default.

    One per `Endpoint`, handed down to its `Sender`: a test builds short ones instead of
    patching module constants, which would change every endpoint in the process at once.
    """

    ack_interval: float = ACK_INTERVAL
    ack_delay: float = ACK_DELAY
    active_retry_timeout: float = ACTIVE_RETRY_TIMEOUT
    shutdown_min_wait: float = SHUTDOWN_MIN_WAIT
    server_association_timeout: float = SERVER_ASSOCIATION_TIMEOUT
    port_hop_interval: float = PORT_HOP_INTERVAL
    timestamp_reply_window: float = TIMESTAMP_REPLY_WINDOW
    echo_timeout: float = ECHO_TIMEOUT


UPSTREAM_TIMERS = Timers()


MIN_RTO_MS = 50.0
MAX_RTO_MS = 1000.0
MAX_RTT_SAMPLE_MS = 5000.0  # larger samples are a suspended peer, not the network


class RttEstimator:
    """Smoothed RTT and its variation (α = 1/8, β = 1/4); the first sample sets both."""

    __slots__ = ("rttvar_ms", "sampled", "srtt_ms")

    def __init__(self) -> None:
        # Before any sample, assume a slow link: predictions shown and underlined, slow pacing.
        self.srtt_ms = 1000.0
        self.rttvar_ms = 500.0
        self.sampled = False

    def add_sample(self, rtt_ms: float) -> bool:
        """Fold in one measurement; False if it was ignored as implausible."""
        if not 0 <= rtt_ms < MAX_RTT_SAMPLE_MS:
            return False
        if not self.sampled:
            self.srtt_ms = rtt_ms
            self.rttvar_ms = rtt_ms / 2
            self.sampled = True
        else:
            self.rttvar_ms = 0.75 * self.rttvar_ms + 0.25 * abs(self.srtt_ms - rtt_ms)
            self.srtt_ms = 0.875 * self.srtt_ms + 0.125 * rtt_ms
        return True

    @property
    def rto(self) -> float:
        """Retransmission timeout in seconds: SRTT + 4·RTTVAR within [50 ms, 1 s]."""
        rto_ms = math.ceil(self.srtt_ms + 4 * self.rttvar_ms)
        return min(max(rto_ms, MIN_RTO_MS), MAX_RTO_MS) / 1000

    @property
    def loss_detection_delay(self) -> float:
        """Seconds after which a datagram that the peer should have acknowledged by now, as
        its later traffic shows, counts as lost: a round trip plus room for jitter."""
        return (self.srtt_ms + max(self.rttvar_ms, self.srtt_ms / 8, 5.0)) / 1000

    @property
    def send_interval(self) -> float:
        """Frame interval in seconds: half an RTT within [20 ms, 250 ms]."""
        interval_ms = math.ceil(self.srtt_ms / 2)
        return min(max(interval_ms / 1000, SEND_INTERVAL_MIN), SEND_INTERVAL_MAX)


class LossEstimator:
    """Share of the peer's datagrams that never arrived, from gaps in their sequence numbers.

    It measures the peer-to-us direction, the only one a receiver can see; links that lose
    datagrams mostly lose them both ways. A clean link never shows a gap, so the estimate
    stays exactly zero there.
    """

    __slots__ = ("rate",)

    def __init__(self) -> None:
        self.rate = 0.0

    def note_arrival(self, missing_before: int) -> None:
        """The newest datagram arrived, `missing_before` sequence numbers after the last one."""
        for _ in range(min(missing_before, 64)):
            self.rate += LOSS_EWMA_WEIGHT * (1.0 - self.rate)
        self.rate -= LOSS_EWMA_WEIGHT * self.rate

    def note_late_arrival(self) -> None:
        """A datagram counted missing arrived after all (reordered): take one loss back."""
        self.rate = max(0.0, (self.rate - LOSS_EWMA_WEIGHT) / (1 - LOSS_EWMA_WEIGHT))
