"""Timed scenarios shared by the end-to-end tests and `bench/`: each drives a client on a pty
(ours or upstream's) and returns what it measured; the tests hold the bounds, the benchmarks
print the numbers beside upstream's."""

from __future__ import annotations

import time
from collections.abc import Callable

from ssp.screen import Framebuffer

from .ptydriver import PtyClient
from .sides import Side, client_through_link, wait_for_prompt

# How many commands run_commands types on the paper's link (100 ms RTT, 29 % loss each way).
COMMANDS = 12


def typing_latencies(
    client: PtyClient, text: str, row_of: Callable[[Framebuffer], int], gap: float
) -> list[float]:
    """Type `text` a character at a time, `gap` seconds apart; return each echo's latency.

    A character counts as echoed when the row `row_of(screen)` first shows everything typed
    so far (predicted or real, the user cannot tell the difference).
    """
    latencies: list[float] = []
    typed = ""
    base = client.screen
    start_row = row_of(base)
    prefix = "".join(base.rows[start_row].cells[: base.cursor_col])
    for char in text:
        typed += char
        expected = prefix + typed
        sent_at = client.type(char.encode())
        shown_at = client.wait_for(
            lambda s, e=expected: s.rows[start_row].text.startswith(e),
            timeout=10,
            what=f"echo of {typed!r}",
        )
        latencies.append(shown_at - sent_at)
        pause = sent_at + gap - time.monotonic()
        while pause > 0:
            client.pump(pause)
            pause = sent_at + gap - time.monotonic()
    return latencies


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


def _drain(client: PtyClient, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        client.pump(end - time.monotonic())


def ctrl_c_under_yes(side: Side, rtt: float) -> float:
    """Seconds from Ctrl-C (typed during a `yes` flood) to the prompt on the client's screen."""
    with client_through_link(side, delay=rtt / 2) as (client, _):
        wait_for_prompt(client)
        client.type(b"yes\r")
        client.wait_for(lambda s: all(line == "y" for line in s.text_lines()[1:-1]), 20, "flood")
        _drain(client, 1.0)
        interrupted = client.type(b"\x03")
        back = client.wait_for(
            lambda s: s.text_lines()[s.cursor_row] == "$" and s.cursor_col == 2, 20, "prompt"
        )
        return back - interrupted


def seq_to_final_screen(side: Side) -> tuple[float, list[str]]:
    """Seconds from Enter to the final screen of `seq 1 2000000`, and that screen."""
    with client_through_link(side) as (client, _):
        wait_for_prompt(client)
        client.type(b"seq 1 2000000")
        client.wait_for(lambda s: "seq 1 2000000" in s.text_lines()[s.cursor_row], 10, "typed")
        started = client.type(b"\r")
        done = client.wait_for(
            lambda s: s.text_lines()[s.cursor_row - 1 : s.cursor_row + 1] == ["2000000", "$"],
            120,
            "the end of seq",
        )
        return done - started, client.screen.text_lines()
