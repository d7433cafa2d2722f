"""Typing on a lossy link, this project beside upstream mosh, in one run.

    python bench/lossy_typing.py [--seeds 1,2,3]

The paper's link: 50 ms delay and 29 % loss each way, prediction off, a 40-row pty, through the
test suite's UDP impairment proxy (one loss seed per run). Two ways of typing a command:

- whole line at once: `echo rN-$((1000+N))` and Enter in one write (a paste, a fast typist),
  15 commands at least 0.3 s apart; time from the write to seeing `rN-<1000+N>` on screen;
- type then Enter: type the command, wait for its echo, then time Enter to its output
  (testsupport/measure.py's run_commands, 12 commands).

Upstream is measured when `apt-get install mosh` has put it in /usr/bin.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testsupport.measure import run_commands, run_whole_lines
from testsupport.sides import Side, ours, upstream, upstream_installed

PATTERNS: list[tuple[str, Callable[[Side, int], list[float]]]] = [
    ("whole line at once", lambda side, seed: run_whole_lines(side, seed)),
    ("type then Enter", lambda side, seed: run_commands(side, seed)),
]


def summary(name: str, per_seed: dict[int, list[float]]) -> str:
    times = sorted(t for run in per_seed.values() for t in run)
    p90 = times[int(0.9 * (len(times) - 1))]
    slow = sum(1 for t in times if t > 1.0)
    seeds = " ".join(f"{statistics.mean(run):.3f}" for run in per_seed.values())
    return (
        f"  {name:<10} {statistics.mean(times):>7.3f} {statistics.median(times):>7.3f}"
        f" {p90:>7.3f} {times[-1]:>7.3f} {slow:>4}/{len(times):<4} {seeds}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3", help="loss seeds, comma-separated")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    sides: list[tuple[str, Callable[[], contextlib.AbstractContextManager[Side]]]] = [
        ("moshd", ours)
    ]
    if upstream_installed():
        sides.append(("mosh 1.4", upstream))
    print("50 ms delay and 29 % loss each way, no prediction; seconds; seeds " + args.seeds)
    for pattern, run in PATTERNS:
        print(f"\n{pattern}")
        print(
            f"  {'client':<10} {'mean':>7} {'median':>7} {'p90':>7} {'max':>7}"
            f" {'> 1 s':>9} per-seed means"
        )
        for name, start in sides:
            per_seed: dict[int, list[float]] = {}
            for seed in seeds:
                with start() as side:
                    per_seed[seed] = run(side, seed)
            print(summary(name, per_seed), flush=True)
    if not upstream_installed():
        print("(upstream mosh not installed: apt-get install mosh)")


if __name__ == "__main__":
    main()
