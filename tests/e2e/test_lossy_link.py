"""The paper's experiment: 100 ms RTT, 29 % loss each way, no prediction, beside upstream."""

from __future__ import annotations

import statistics

import pytest

from .ptydriver import PtyClient
from .sides import Side, client_through_link, ours, upstream, upstream_installed, wait_for_prompt

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


def _assert_each_output_once(client: PtyClient) -> None:
    lines = client.screen.text_lines()
    for n in range(1, COMMANDS + 1):
        assert lines.count(f"out{n}-{n * 7}") == 1, lines  # none lost, none doubled
        assert sum(1 for line in lines if f"echo out{n}-" in line) == 1, lines


@pytest.mark.skipif(not upstream_installed(), reason="upstream mosh is the yardstick")
def test_lossy_link_runs_every_command_once_no_slower_than_upstream() -> None:
    with ours() as side:
        our_times = run_commands(side, seed=29)
    with upstream() as side:
        their_times = run_commands(side, seed=29)
    ours_mean, theirs_mean = statistics.mean(our_times), statistics.mean(their_times)
    print(f"mean time to output: moshd {ours_mean:.3f} s, mosh 1.4 {theirs_mean:.3f} s")
    assert ours_mean <= theirs_mean * 1.1, (our_times, their_times)
