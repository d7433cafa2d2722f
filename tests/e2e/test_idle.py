"""An attached session with nothing happening costs (almost) nothing: clients run on batteries.

Bound from the protocol's rules: each side sends a heartbeat every 3 s (ACK_INTERVAL) and so
wakes for its own heartbeat and for the peer's, 2 wake-ups per 3 s, ~7 in 10 s, each one context
switch (measured: 6). We allow 12 per process in 10 s: a timer of 1 s anywhere already makes 14;
the polling loops this replaced cost the client ~140 and the daemon ~200.
"""

from __future__ import annotations

from testsupport.idle import measure
from testsupport.sides import ours

SECONDS = 10.0
MAX_SWITCHES = 12  # per process in SECONDS; see above
MAX_TICKS = 5  # CPU ticks (1/100 s) per process in SECONDS: a heartbeat costs well under 1 ms


def test_an_idle_attached_session_sleeps_between_heartbeats() -> None:
    with ours() as side:
        idle = measure(side, SECONDS)
    print(f"client: {idle.client}, daemon: {idle.server}")
    assert idle.client.switches <= MAX_SWITCHES, idle.client
    assert idle.server.switches <= MAX_SWITCHES, idle.server
    assert idle.client.ticks <= MAX_TICKS, idle.client
    assert idle.server.ticks <= MAX_TICKS, idle.server
