"""The sending half of SSP: which state to send, when, and as a diff against what.

It follows upstream mosh's rules:
- Only the newest local state is ever sent, at most once per `send_interval` (half an RTT), after
  a short collection delay from the first change. Intermediate states are skipped, so a flood
  never fills network queues and Ctrl-C is seen within an RTT.
- Diffs are optimistic: against the newest state the peer probably has (sent less than
  RTO + ACK_DELAY ago). When that presumption times out, the next diff falls back to the last
  acknowledged state, which is a retransmission.
- An empty instruction (a new state number with no diff) acks the peer's data after a short
  delay and serves as a heartbeat every 3 s.

Beyond upstream, a loss is noticed before the RTO when the peer's later traffic still does not
acknowledge a state (see `note_peer_ack`). `next_deadline` always includes the retransmission
of what is in flight, so an event loop that sleeps until it never waits for the heartbeat.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ssp.datagram import SHUTDOWN_NUM, Fragmenter, Instruction, make_chaff
from ssp.state import SyncState
from ssp.timing import (
    SEND_INTERVAL_MIN,
    SHUTDOWN_RETRIES,
    UPSTREAM_TIMERS,
    RttEstimator,
    Timers,
)

S = TypeVar("S", bound=SyncState)

MAX_SENT_STATES = 32
FRAME_BURST = 2.0  # frames that may go back to back after a quiet spell
NEVER = math.inf

# Prospective resend: send the diff from the acknowledged state instead of the optimistic one if
# it is no longer, or longer by under this many bytes while still small.
_RESEND_SLACK_BYTES = 100
_RESEND_SMALL_BYTES = 1000


@dataclass(slots=True)
class SentState(Generic[S]):
    timestamp: float
    num: int
    state: S


class Sender(Generic[S]):
    def __init__(
        self,
        initial: S,
        rtt: RttEstimator,
        now: float,
        send_mindelay: float,
        carries_input: bool = False,
        entropy: Callable[[int], bytes] = os.urandom,
        timers: Timers = UPSTREAM_TIMERS,
        fragmenter: Fragmenter | None = None,
    ) -> None:
        """`entropy(n)` gives n random bytes, for the chaff: see `make_chaff`. `fragmenter`
        encodes instructions for the endpoint's wire (native by default)."""
        self._rtt = rtt
        self._timers = timers
        self._entropy = entropy
        self._carries_input = carries_input  # the client: every diff is the user's input
        # Whether the last `tick` sent something a person is waiting for: the user's input, or
        # a frame answering it (sent while the peer's data awaited our acknowledgment).
        self.sent_urgent = False
        self._send_mindelay = send_mindelay
        self.current: S = initial.copy()
        self.sent: list[SentState[S]] = [SentState(now, 0, initial.copy())]
        self._assumed = 0  # index into sent: the newest state the peer probably has
        self.next_ack_time = now
        self.next_send_time = now
        self._mindelay_clock: float | None = None
        self.pending_data_ack = False
        self.ack_num = 0  # newest remote state we have
        self.last_ack_sent = 0
        self.last_heard: float | None = None
        self.shutdown_in_progress = False
        self._shutdown_start = 0.0
        self._shutdown_tries = 0
        self._fragmenter = fragmenter if fragmenter is not None else Fragmenter()
        self._frame_tokens = FRAME_BURST
        self._tokens_at = now
        self._last_frame_at = -math.inf
        self._reply_slot: float | None = None  # an extra frame slot answering peer input
        self._lost_through = -math.inf  # states sent at or before this time are presumed lost

    # --- inputs ------------------------------------------------------------------------------
    def set_current(self, state: S, now: float) -> None:
        self.current = state
        self.calculate_timers(now)

    def set_ack_num(self, ack_num: int) -> None:
        self.ack_num = ack_num

    def set_data_ack(self, now: float) -> None:
        """The peer sent data (for the server: the user typed). The answer to it, typically
        an echo or the prompt after Ctrl-C, gets a frame slot of its own one collection delay
        later, when the application has had time to react, even in a flood: such extra frames
        are bounded by the peer's input rate, never by the output rate."""
        self.pending_data_ack = True
        if self._reply_slot is None:
            self._reply_slot = now + self._send_mindelay

    def process_acknowledgment_through(self, ack_num: int) -> None:
        """The peer has state `ack_num`: forget every older sent state."""
        for index, sent in enumerate(self.sent):
            if sent.num == ack_num:
                del self.sent[:index]
                self._assumed = max(0, self._assumed - index)
                return

    def note_peer_ack(self, ack_num: int, now: float, peer_resent: bool) -> None:
        """The peer's newest datagram acknowledges only `ack_num`. A later state of ours sent
        more than a round trip before that datagram arrived would have reached the peer before
        it was sent, so the peer would have acknowledged it: it was lost. Presume so now and
        resend at the next frame slot instead of waiting out the RTO (time-based loss
        detection in the spirit of TCP's RACK). Before the first RTT sample there is no round
        trip to judge by, but a peer that resends a state we have (`peer_resent`) shows that
        our acknowledgment of it never arrived. A wrong guess costs one small resend."""
        if self._rtt.sampled:
            cutoff = now - self._rtt.loss_detection_delay
        elif peer_resent:
            cutoff = now
        else:
            return
        lost = [
            sent.timestamp for sent in self.sent if sent.num > ack_num and sent.timestamp <= cutoff
        ]
        if lost:
            self._lost_through = max(self._lost_through, *lost)
            self.calculate_timers(now)

    def start_shutdown(self, now: float) -> None:
        if not self.shutdown_in_progress:
            self.shutdown_in_progress = True
            self._shutdown_start = now
            self.calculate_timers(now)

    # --- queries -----------------------------------------------------------------------------
    @property
    def acked_timestamp(self) -> float:
        """When the newest acknowledged state was sent (for round-trip success)."""
        return self.sent[0].timestamp

    @property
    def last_sent_num(self) -> int:
        return self.sent[-1].num

    def shutdown_acknowledged(self) -> bool:
        return self.sent[0].num == SHUTDOWN_NUM

    def shutdown_ack_timed_out(self, now: float) -> bool:
        if not self.shutdown_in_progress or self.shutdown_acknowledged():
            return False
        return self._shutdown_tries >= SHUTDOWN_RETRIES or now >= self.shutdown_give_up_time()

    def shutdown_give_up_time(self) -> float:
        """When an unanswered shutdown is abandoned by time (it may be sooner, by tries)."""
        if not self.shutdown_in_progress or self.shutdown_acknowledged():
            return NEVER
        # A peer that hears us answers within a round trip; two of them (at least 2 s) is
        # plenty, where upstream waits up to 10 s before a client or a killed session ends.
        wait = min(
            max(self._timers.shutdown_min_wait, 2 * self._rtt.srtt_ms / 1000),
            self._timers.active_retry_timeout,
        )
        return self._shutdown_start + wait

    def counterparty_shutdown_ack_sent(self) -> bool:
        return self.last_ack_sent == SHUTDOWN_NUM

    def next_deadline(self) -> float:
        if self.shutdown_acknowledged():
            return NEVER
        return min(self.next_ack_time, self.next_send_time)

    # --- timers ------------------------------------------------------------------------------
    def _heard_recently(self, now: float) -> bool:
        return (
            self.last_heard is not None
            and now - self.last_heard < self._timers.active_retry_timeout
        )

    def _update_assumed_receiver_state(self, now: float) -> None:
        # Give the benefit of the doubt to states sent recently enough that an ack may be coming.
        timeout = self._rtt.rto + self._timers.ack_delay
        self._assumed = 0
        for index in range(1, len(self.sent)):
            sent_at = self.sent[index].timestamp
            if now - sent_at < timeout and sent_at > self._lost_through:
                self._assumed = index
            else:
                break

    def _rationalize_states(self) -> None:
        known = self.sent[0].state
        self.current.subtract(known)
        for sent in reversed(self.sent):
            sent.state.subtract(known)

    def calculate_timers(self, now: float) -> None:
        self._update_assumed_receiver_state(now)
        self._rationalize_states()
        interval = self._rtt.send_interval
        last = self.sent[-1]

        if self.pending_data_ack and self.next_ack_time > now + self._timers.ack_delay:
            self.next_ack_time = now + self._timers.ack_delay

        if self.current != last.state:
            if self._mindelay_clock is None:
                self._mindelay_clock = now
            self.next_send_time = max(
                self._mindelay_clock + self._send_mindelay, self._frame_slot(now, interval)
            )
        elif self.current != self.sent[self._assumed].state and self._heard_recently(now):
            # A retransmission, not a new frame: upstream's plain interval, no burst tokens.
            self.next_send_time = last.timestamp + interval
            if self._mindelay_clock is not None:
                self.next_send_time = max(
                    self.next_send_time, self._mindelay_clock + self._send_mindelay
                )
        elif self.current != self.sent[0].state and self._heard_recently(now):
            self.next_send_time = last.timestamp + self._rtt.rto + self._timers.ack_delay
        else:
            self.next_send_time = NEVER

        # Hurry the shutdown handshake along.
        if self.shutdown_in_progress or self.ack_num == SHUTDOWN_NUM:
            self.next_ack_time = last.timestamp + interval

    def _frame_slot(self, now: float, interval: float) -> float:
        """Earliest time the next frame may go: a two-frame token bucket refilled once per
        frame interval, and never two frames within SEND_INTERVAL_MIN.

        A flood still gets one frame per interval (the bucket stays empty), but an isolated
        change after a quiet spell (a keystroke's echo) does not wait for a slot that a recent
        small frame (an echo_ack update) used. Empty acks never use a slot.
        """
        tokens = min(FRAME_BURST, self._frame_tokens + (now - self._tokens_at) / interval)
        self._frame_tokens, self._tokens_at = tokens, now
        wait = max(0.0, 1.0 - tokens) * interval
        slot = max(now + wait, self._last_frame_at + SEND_INTERVAL_MIN)
        if self._reply_slot is not None and now > self._reply_slot + self._timers.ack_delay:
            self._reply_slot = None  # nothing answered the input in time: no extra frame
        if self._reply_slot is not None:
            slot = min(slot, max(self._reply_slot, self._last_frame_at + SEND_INTERVAL_MIN))
        return slot

    def _spend_frame_slot(self, now: float) -> None:
        self._frame_slot(now, self._rtt.send_interval)  # refill up to now
        if self._reply_slot is not None and now >= self._reply_slot:
            self._reply_slot = None  # this frame answers the peer's input: no token spent
        else:
            self._frame_tokens = max(0.0, self._frame_tokens - 1.0)
        self._last_frame_at = now

    # --- output ------------------------------------------------------------------------------
    def tick(self, now: float, chunk_bytes: int, send: Callable[[bytes], None]) -> None:
        """Send whatever is due now through `send` (one call per fragment)."""
        self.sent_urgent = False
        self.calculate_timers(now)
        if self.shutdown_acknowledged():
            return  # nothing more to say: the peer knows we are gone
        if now < self.next_ack_time and now < self.next_send_time:
            return
        diff = self.current.diff_from(self.sent[self._assumed].state)
        diff = self._prospective_resend(diff)
        if not diff:
            if now >= self.next_ack_time:
                self._send_empty_ack(now, chunk_bytes, send)
                self._mindelay_clock = None
            if now >= self.next_send_time:
                self.next_send_time = NEVER
                self._mindelay_clock = None
        elif now >= self.next_send_time or now >= self.next_ack_time:
            self._send_diff(now, diff, chunk_bytes, send)
            self._mindelay_clock = None
        # What was just sent moves the timers (the retransmission of it, above all): without
        # this, `next_deadline` would report the heartbeat and a lost frame would wait for it.
        self.calculate_timers(now)

    def _prospective_resend(self, proposed: bytes) -> bytes:
        if self._assumed == 0:
            return proposed
        resend = self.current.diff_from(self.sent[0].state)
        if len(resend) <= len(proposed) or (
            len(resend) < _RESEND_SMALL_BYTES and len(resend) - len(proposed) < _RESEND_SLACK_BYTES
        ):
            self._assumed = 0
            return resend
        return proposed

    def _send_empty_ack(self, now: float, chunk_bytes: int, send: Callable[[bytes], None]) -> None:
        new_num = SHUTDOWN_NUM if self.shutdown_in_progress else self.sent[-1].num + 1
        self._add_sent_state(now, new_num, self.current.copy())
        self._send_fragments(b"", new_num, chunk_bytes, send)
        self.next_ack_time = now + self._timers.ack_interval
        self.next_send_time = NEVER

    def _send_diff(
        self, now: float, diff: bytes, chunk_bytes: int, send: Callable[[bytes], None]
    ) -> None:
        last = self.sent[-1]
        if self.shutdown_in_progress:
            new_num = SHUTDOWN_NUM
        elif self.current == last.state:
            new_num = last.num  # a retransmission of the newest state
        else:
            new_num = last.num + 1
        if new_num == last.num:
            last.timestamp = now
        else:
            self._add_sent_state(now, new_num, self.current.copy())
        self.sent_urgent = self._carries_input or self.pending_data_ack
        self._send_fragments(diff, new_num, chunk_bytes, send)
        if new_num != last.num:
            self._spend_frame_slot(now)  # a new frame; resending the same state costs no slot
        # Optimistically assume it arrives.
        self._assumed = len(self.sent) - 1
        self.next_ack_time = now + self._timers.ack_interval
        self.next_send_time = NEVER

    def _send_fragments(
        self, diff: bytes, new_num: int, chunk_bytes: int, send: Callable[[bytes], None]
    ) -> None:
        inst = Instruction(
            old_num=self.sent[self._assumed].num,
            new_num=new_num,
            ack_num=self.ack_num,
            throwaway_num=self.sent[0].num,
            diff=diff,
            chaff=make_chaff(self._entropy),
        )
        for fragment in self._fragmenter.fragments(inst, chunk_bytes):
            send(fragment)
        self.last_ack_sent = self.ack_num
        self.pending_data_ack = False
        if new_num == SHUTDOWN_NUM:
            self._shutdown_tries += 1

    def _add_sent_state(self, now: float, num: int, state: S) -> None:
        if num == self.sent[-1].num:
            # A repeated shutdown state: refresh it rather than hold two with one number.
            self.sent[-1] = SentState(now, num, state)
            return
        self.sent.append(SentState(now, num, state))
        if len(self.sent) > MAX_SENT_STATES:
            # Keep the oldest (acknowledged) and newest states; drop one from the middle.
            drop = len(self.sent) - 16 - 1
            del self.sent[drop]
            if self._assumed >= drop:
                self._assumed = max(0, self._assumed - 1)
