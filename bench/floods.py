"""Output floods end to end, with the session's scrollback kept and without, beside upstream.

    python bench/floods.py [--repeat 3]

For `seq 1 2000000`, `cat` of a coloured `ls -lR` (4 MB) and of CJK text (2 MB): seconds from
Enter to the final screen on a real client, through the test suite's UDP impairment proxy on
loopback: moshd as it runs by default (scrolled-off lines kept and sent to the client's
terminal history), moshd with `MOSHD_SCROLLBACK_LINES=0` (none kept), and upstream mosh 1.4
when `apt-get install mosh` has put it in /usr/bin. The `ls` and CJK streams are
`emulator_throughput.py`'s, written to a temporary file with bare LF line ends (the PTY's
ONLCR makes them CR LF, as for a real `cat`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from emulator_throughput import cjk_stream, ls_stream

from testsupport.measure import seq_to_final_screen
from testsupport.sides import (
    Side,
    client_through_link,
    ours,
    upstream,
    upstream_installed,
    wait_for_prompt,
)

END = "END-OF-FLOOD"


def cat_to_final_screen(side: Side, path: str) -> float:
    """Seconds from Enter to the final screen of `cat path` (whose last line is END)."""
    with client_through_link(side) as (client, _):
        wait_for_prompt(client)
        client.type(f"cat {path}".encode())
        client.wait_for(lambda s: path in s.text_lines()[s.cursor_row], 10, "typed")
        started = client.type(b"\r")
        done = client.wait_for(
            lambda s: (
                s.text_lines()[s.cursor_row - 1].startswith(END)
                and s.text_lines()[s.cursor_row] == "$"
            ),
            120,
            "the end of the flood",
        )
        return done - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sides: list[tuple[str, Callable[[], contextlib.AbstractContextManager[Side]]]] = [
        ("moshd", ours),  # scrollback kept, as by default
        ("no scrollback", lambda: ours(daemon_env={"MOSHD_SCROLLBACK_LINES": "0"})),
    ]
    if upstream_installed():
        sides.append(("mosh 1.4", upstream))
    with tempfile.TemporaryDirectory() as scratch:
        measures: list[tuple[str, Callable[[Side], float]]] = [
            ("seq 1 2000000 (16.9 MB)", lambda side: seq_to_final_screen(side)[0])
        ]
        for name, stream in [
            ("cat coloured ls -lR (4 MB)", ls_stream),
            ("cat CJK (2 MB)", cjk_stream),
        ]:
            path = os.path.join(scratch, name.split()[1] + ".txt")
            data = stream().replace(b"\r\n", b"\n") + f"\x1b[m{END}\n".encode()
            Path(path).write_bytes(data)
            measures.append((name, lambda side, path=path: cat_to_final_screen(side, path)))
        print(f"Enter to final screen, s (median of {args.repeat})")
        print(f"{'flood':<28}" + "".join(f"{label:>15}" for label, _ in sides))
        for name, measure in measures:
            row = []
            for _, make in sides:
                times = []
                for _ in range(args.repeat):
                    with make() as side:
                        times.append(measure(side))
                row.append(statistics.median(times))
            print(f"{name:<28}" + "".join(f"{value:>15.2f}" for value in row))
    if not upstream_installed():
        print("(upstream mosh not installed: apt-get install mosh)")


if __name__ == "__main__":
    main()
