"""Keystroke-to-screen latency through a 250 ms RTT link, beside upstream mosh.

    python bench/latency.py [--rtt 0.25] [--keys 40] [--gap 0.15] [--loss 0]

Each client runs on a pty this script owns; every byte it draws is fed to a terminal emulator
and a keystroke counts as shown when the cursor's row first displays everything typed so far
(a prediction or the real echo: the user cannot tell them apart). The link is the UDP
impairment proxy from the test suite. Upstream mosh is measured when `/usr/bin/mosh-server`
and `/usr/bin/mosh-client` exist (`apt-get install mosh`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from testsupport.measure import typing_latencies  # noqa: E402
from testsupport.sides import (  # noqa: E402
    Side,
    client_through_link,
    ours,
    upstream,
    upstream_installed,
    wait_for_prompt,
)

TEXT = "echo the quick brown fox jumps over the lazy dog"


@dataclass
class Result:
    name: str
    latencies: list[float]

    def row(self, width: int = 28) -> str:
        ms = sorted(x * 1000 for x in self.latencies)
        median = statistics.median(ms)
        p90 = ms[int(0.9 * (len(ms) - 1))]
        fast = sum(1 for x in ms if x < 20) / len(ms)
        return f"{self.name:<{width}} {median:>9.1f} {p90:>9.1f} {fast:>10.0%} {len(ms):>6}"


def measure(side: Side, args: argparse.Namespace, mode: str) -> Result:
    with client_through_link(
        side, delay=args.rtt / 2, loss=args.loss, MOSH_PREDICTION_DISPLAY=mode
    ) as (client, _):
        wait_for_prompt(client)
        client.type(b"echo warm\r")
        client.wait_for(
            lambda s: s.text_lines()[s.cursor_row - 1 : s.cursor_row + 1] == ["warm", "$"],
            20,
            "the prompt after warm",
        )
        settle = time.monotonic() + 1.0  # let the RTT estimate settle, drawing as we go
        while time.monotonic() < settle:
            client.pump(settle - time.monotonic())
        text = (TEXT * (args.keys // len(TEXT) + 1))[: args.keys]
        latencies = typing_latencies(client, text, lambda s: s.cursor_row, args.gap)
        return Result(f"{side.name} --predict={mode}", latencies)


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rtt", type=float, default=0.250)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--gap", type=float, default=0.150, help="seconds between keys")
    parser.add_argument("--loss", type=float, default=0.0, help="loss each way (0-1)")
    parser.add_argument("--modes", default="adaptive,never", help="prediction modes to run")
    return parser.parse_args()


def compare(
    args: argparse.Namespace, sides: list[Callable[[], AbstractContextManager[Side]]]
) -> None:
    """Measure each side in each prediction mode, in the same run, and print the table."""
    results = []
    for mode in args.modes.split(","):
        for side_of in sides:
            with side_of() as side:
                results.append(measure(side, args, mode))
    print(
        f"keystroke to screen, RTT {args.rtt * 1000:.0f} ms, loss {args.loss:.0%} each way, "
        f"a key every {args.gap * 1000:.0f} ms"
    )
    width = max(28, *(len(result.name) for result in results))
    print(f"{'client':<{width}} {'median ms':>9} {'p90 ms':>9} {'< 20 ms':>10} {'keys':>6}")
    for result in results:
        print(result.row(width))


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    compare(args, [ours, upstream] if upstream_installed() else [ours])
    if not upstream_installed():
        print("(upstream mosh not installed: apt-get install mosh)")


if __name__ == "__main__":
    main()
