"""An attached, idle session's cost: CPU ticks and context switches, beside upstream mosh.

    python bench/idle.py [--seconds 20] [--repeat 1]

Starts a session (a private moshd for this project; `mosh-server new` for upstream), runs the
client on a pty pointed straight at the server's port (no impairment proxy, so the proxy's own
work is not counted), waits for the prompt, lets it settle for 2 s, then leaves it alone for
`--seconds` while reading what the client draws. Over that interval, for the client process and
for the server process (our moshd daemon; upstream's per-session mosh-server), summed over all
their threads: CPU ticks (utime + stime, /proc/PID/task/*/stat) and context switches
(voluntary + nonvoluntary, /proc/PID/task/*/status). The shell is not counted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testsupport.idle import Counters, Idle, measure
from testsupport.sides import Side, ours, upstream, upstream_installed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    sides: list[tuple[str, Callable[[], contextlib.AbstractContextManager[Side]]]] = [
        ("moshd", ours)
    ]
    if upstream_installed():
        sides.append(("mosh 1.4", upstream))
    results: dict[str, list[Idle]] = {name: [] for name, _ in sides}
    for _ in range(args.repeat):
        for name, start in sides:
            with start() as side:
                results[name].append(measure(side, args.seconds))

    hz = os.sysconf("SC_CLK_TCK")
    how = "median of " + str(args.repeat) + ", " if args.repeat > 1 else ""
    print(f"idle attached session, {args.seconds:g} s ({how}ticks of 1/{hz} s)")
    print(f"{'':<20} {'client':>8} {'server':>8} {'total':>8}")
    measures: list[tuple[str, Callable[[Counters], int]]] = [
        ("CPU ticks", lambda c: c.ticks),
        ("context switches", lambda c: c.switches),
    ]
    for label, pick in measures:
        print(label)
        for name, runs in results.items():
            client = statistics.median(pick(r.client) for r in runs)
            server = statistics.median(pick(r.server) for r in runs)
            total = statistics.median(pick(r.client) + pick(r.server) for r in runs)
            print(f"  {name:<18} {client:>8g} {server:>8g} {total:>8g}")
    for name, runs in results.items():
        if any(r.threads_changed for r in runs):
            print(f"({name}: threads came or went during the interval; their ticks may be lost)")
    if not upstream_installed():
        print("(upstream mosh not installed: apt-get install mosh)")


if __name__ == "__main__":
    main()
