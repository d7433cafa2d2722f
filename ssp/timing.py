"""Upstream mosh's timer constants and the RFC 6298 round-trip estimator.

Times are seconds (floats) everywhere in `ssp`, as the caller's monotonic clock gives them; RTT
figures are milliseconds because that is what the 16-bit wire timestamps measure.
"""

from __future__ import annotations

import math

SEND_INTERVAL_MIN = 0.020  # never more than 50 frames a second
SEND_INTERVAL_MAX = 0.250  # never fewer than 4 frames a second when something changed
SERVER_SEND_MINDELAY = 0.008  # collection delay after the first change: batches output
CLIENT_SEND_MINDELAY = 0.001  # keystrokes go out almost at once
ACK_INTERVAL = 3.0  # heartbeat: an empty ack at least this often
ACK_DELAY = 0.100  # delayed ack for received data
ACTIVE_RETRY_TIMEOUT = 10.0  # stop retransmitting if the peer has been silent this long
SHUTDOWN_RETRIES = 16
SERVER_ASSOCIATION_TIMEOUT = 40.0  # server stops sending to a silent client
PORT_HOP_INTERVAL = 10.0  # client opens a new source port after this long without a round trip
TIMESTAMP_REPLY_WINDOW = 1.0  # a peer's timestamp is echoed only if it arrived this recently
ECHO_TIMEOUT = 0.050  # echo_ack covers input the application has had at least this long

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
    def send_interval(self) -> float:
        """Frame interval in seconds: half an RTT within [20 ms, 250 ms]."""
        interval_ms = math.ceil(self.srtt_ms / 2)
        return min(max(interval_ms / 1000, SEND_INTERVAL_MIN), SEND_INTERVAL_MAX)
