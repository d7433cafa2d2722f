"""Keystroke-to-screen latency of upstream's mosh-client on moshd, beside stock mosh at both
ends, in the same run (bench/latency.py's measure, through the impairment proxy).

    python bench/stock_latency.py [--rtt 0.25] [--keys 40] [--gap 0.15] [--loss 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from latency import Result, measure  # noqa: E402

from testsupport.sides import stock_on_moshd, upstream, upstream_installed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt", type=float, default=0.250)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--gap", type=float, default=0.150, help="seconds between keys")
    parser.add_argument("--loss", type=float, default=0.0, help="loss each way (0-1)")
    parser.add_argument("--modes", default="adaptive,never", help="prediction modes to run")
    args = parser.parse_args()
    if not upstream_installed():
        sys.exit("upstream mosh is not installed (apt-get install mosh)")
    results: list[Result] = []
    for mode in args.modes.split(","):
        with stock_on_moshd() as side:
            results.append(measure(side, args, mode))
        with upstream() as side:
            results.append(measure(side, args, mode))
    print(
        f"keystroke to screen, RTT {args.rtt * 1000:.0f} ms, loss {args.loss:.0%} each way, "
        f"a key every {args.gap * 1000:.0f} ms"
    )
    print(f"{'client':<40} {'median ms':>9} {'p90 ms':>9} {'< 20 ms':>10} {'keys':>6}")
    for result in results:
        print(result.row())


if __name__ == "__main__":
    main()
