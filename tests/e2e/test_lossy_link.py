"""The paper's experiment: 100 ms RTT, 29 % loss each way, no prediction; commands typed then
entered, and whole lines written at once (a paste, a fast typist)."""

from __future__ import annotations

import statistics

import pytest

from testsupport.measure import run_commands, run_whole_lines
from testsupport.sides import ours

# Bounds from the protocol's rules, not from a run of upstream: without loss a command's output
# is one round trip away (0.1 s here, plus collection delays). A loss is recovered in about an
# RTT (the peer's later traffic shows it) or at the RTO (SRTT + 4 RTTVAR + 100 ms, ~0.3 s), and
# small urgent datagrams go twice on a lossy link, so the mean stays near 0.15 s (measured 0.12
# to 0.15 s; upstream 1.4 measures 0.21 to 0.32 s in bench/lossy_typing.py). The slack covers
# a busy CI machine. A stall of a whole second (a retransmission waiting for a heartbeat)
# breaks the maximum.
MEAN_BOUND = 0.25
MAX_BOUND = 1.5


def test_lossy_link_runs_every_command_once_within_the_protocols_bounds() -> None:
    with ours() as side:
        times = run_commands(side, seed=29)
    print(f"type then Enter, mean {statistics.mean(times):.3f} s, max {max(times):.3f} s")
    assert statistics.mean(times) <= MEAN_BOUND, times
    assert max(times) <= MAX_BOUND, times


@pytest.mark.parametrize("seed", [1, 2])
def test_whole_lines_at_once_through_loss_never_stall(seed: int) -> None:
    with ours() as side:
        times = run_whole_lines(side, seed=seed)
    print(f"whole lines, mean {statistics.mean(times):.3f} s, max {max(times):.3f} s")
    assert statistics.mean(times) <= MEAN_BOUND, times
    assert max(times) <= MAX_BOUND, times
