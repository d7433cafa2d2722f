"""Keystroke-to-screen latency of upstream's mosh-client on moshd, beside stock mosh at both
ends, in the same run (bench/latency.py's measure, through the impairment proxy).

    python bench/stock_latency.py [--rtt 0.25] [--keys 40] [--gap 0.15] [--loss 0]
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from latency import arguments, compare  # noqa: E402

from testsupport.sides import stock_on_moshd, upstream, upstream_installed  # noqa: E402


def main() -> None:
    if not upstream_installed():
        sys.exit("upstream mosh is not installed (apt-get install mosh)")
    compare(arguments(__doc__.splitlines()[0]), [stock_on_moshd, upstream])


if __name__ == "__main__":
    main()
