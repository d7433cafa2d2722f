"""The paper's experiment: 100 ms RTT, 29 % loss each way, no prediction; commands typed then
entered, and whole lines written at once (a paste, a fast typist)."""

from __future__ import annotations

import statistics
import time

import pytest

from .ptydriver import PtyClient
from .sides import Side, client_through_link, ours, wait_for_prompt

COMMANDS = 12


def run_commands(side: Side, seed: int) -> list[float]:
    """Type 12 commands; return the time from Enter to seeing each one's output."""
    with client_through_link(
        side, delay=0.05, loss=0.29, seed=seed, height=40, MOSH_PREDICTION_DISPLAY="never"
    ) as (client, _):
        wait_for_prompt(client, timeout=60)
        times: list[float] = []
        for n in range(1, COMMANDS + 1):
            command = f"echo out{n}-$(({n}*7))"
            client.type(command.encode())
            client.wait_for(lambda s, c=command: c in s.text_lines()[s.cursor_row], 30, command)
            entered = client.type(b"\r")
            expected = f"out{n}-{n * 7}"
            seen = client.wait_for(lambda s, e=expected: e in s.text_lines(), 30, expected)
            times.append(seen - entered)
            wait_for_prompt(client, timeout=30)
        _assert_each_output_once(client)
        return times


def run_whole_lines(side: Side, seed: int, lines: int = 15, gap: float = 0.3) -> list[float]:
    """Paste whole command lines (Enter included, one write each); return write-to-output times.

    The same link as run_commands. After each output shows, wait for the prompt, and start the
    next write no sooner than `gap` seconds after the previous one.
    """
    with client_through_link(
        side, delay=0.05, loss=0.29, seed=seed, height=40, MOSH_PREDICTION_DISPLAY="never"
    ) as (client, _):
        wait_for_prompt(client, timeout=60)
        times: list[float] = []
        for n in range(1, lines + 1):
            written = client.type(f"echo r{n}-$((1000+{n}))\r".encode())
            expected = f"r{n}-{1000 + n}"
            seen = client.wait_for(lambda s, e=expected: e in s.text_lines(), 30, expected)
            times.append(seen - written)
            wait_for_prompt(client, timeout=30)
            pause = written + gap - time.monotonic()
            while pause > 0:
                client.pump(pause)
                pause = written + gap - time.monotonic()
        screen = client.screen.text_lines()
        # 40 rows: the last prompt plus the last 19 commands and their outputs are on screen.
        for n in range(max(1, lines - 18), lines + 1):
            assert screen.count(f"r{n}-{1000 + n}") == 1, screen  # none lost, none doubled
            assert sum(1 for line in screen if f"echo r{n}-$" in line) == 1, screen
        return times


def _assert_each_output_once(client: PtyClient) -> None:
    lines = client.screen.text_lines()
    for n in range(1, COMMANDS + 1):
        assert lines.count(f"out{n}-{n * 7}") == 1, lines  # none lost, none doubled
        assert sum(1 for line in lines if f"echo out{n}-" in line) == 1, lines


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
