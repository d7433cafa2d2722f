"""Bad networks and floods, this project beside upstream mosh, in one run.

    python bench/networks.py [--repeat 3]

- bulk output: `seq 1 2000000` from Enter to the final screen on the client;
- Ctrl-C during a `yes` flood until the prompt is back, at 0 and 250 ms RTT;
- the paper's loss test: 100 ms RTT, 29 % loss each way, no prediction, 12 commands, mean time
  from Enter to seeing each command's output.

Clients run on ptys this script owns, through the test suite's UDP impairment proxy. Upstream is
measured when `apt-get install mosh` has put it in /usr/bin.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testsupport.measure import ctrl_c_under_yes, run_commands, seq_to_final_screen
from testsupport.sides import Side, ours, upstream, upstream_installed


def both(measure: Callable[[Side], float], repeat: int) -> tuple[float, float | None]:
    """Median of `repeat` runs for this project and for upstream (None if not installed)."""
    mine = []
    theirs = []
    for _ in range(repeat):
        with ours() as side:
            mine.append(measure(side))
        if upstream_installed():
            with upstream() as side:
                theirs.append(measure(side))
    return statistics.median(mine), statistics.median(theirs) if theirs else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = [
        ("seq 1 2000000 to final screen (s)", lambda s: seq_to_final_screen(s)[0]),
        ("Ctrl-C under yes, RTT 0 (ms)", lambda s: ctrl_c_under_yes(s, 0.0) * 1000),
        ("Ctrl-C under yes, RTT 250 ms (ms)", lambda s: ctrl_c_under_yes(s, 0.25) * 1000),
        (
            "29% loss, 100 ms RTT: mean to output (s)",
            lambda s: statistics.mean(run_commands(s, seed=29)),
        ),
    ]
    print(f"{'measure (median of ' + str(args.repeat) + ')':<44} {'moshd':>10} {'mosh 1.4':>10}")
    for name, measure in rows:
        mine, theirs = both(measure, args.repeat)
        their_text = f"{theirs:>10.2f}" if theirs is not None else f"{'n/a':>10}"
        print(f"{name:<44} {mine:>10.2f} {their_text}")
    if not upstream_installed():
        print("(upstream mosh not installed: apt-get install mosh)")


if __name__ == "__main__":
    main()
