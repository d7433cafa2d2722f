"""Throughput of the server-side terminal emulator on typical output floods.

    python bench/emulator_throughput.py [--size 80x24] [--cap-mb 3] [--no-pyte]

For each stream (`seq 1 2000000`, 2 MB of `yes`, a coloured `ls -lR`, CJK text, a vim-like
session full of cursor motion) prints MB/s for the emulator as a native session runs it (fast
path, scrolled-off lines kept for the scrollback), with its flood fast path and no scrollback,
without the fast path, and for stock pyte 0.8.2, fed in 16 KiB slices as the daemon does. The
slow two are fed at most `--cap-mb` of each stream (a rate is a rate; stock pyte would take
half a minute on seq).
Then the daemon's own loop on all of `seq 1 2000000`: 16 KiB slices with a `snapshot()` each
time 20 ms of processing went by since the last one. Upstream mosh 1.4 shows the final screen
of `seq 1 2000000` about 2.4 s after start on this machine (end to end, real client attached).

The streams are what the programs write through a PTY (ONLCR: "\\r\\n" line ends); all are
built in memory, deterministically.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyte

from ssp.history import History
from termemu.emulator import Emulator

SLICE = 16 * 1024
SNAPSHOT_EVERY = 0.020
UPSTREAM_SEQ_SECONDS = 2.4


# --- streams -----------------------------------------------------------------------------------
def seq_stream() -> bytes:
    return "".join(f"{i}\r\n" for i in range(1, 2_000_001)).encode()


def yes_stream() -> bytes:
    return b"y\r\n" * (2_000_000 // 3)


def ls_stream(size: int = 4_000_000) -> bytes:
    rng = random.Random(1)
    colours = ["01;34", "01;32", "01;36", "00", "01;31", "01;35"]
    out: list[str] = []
    total = 0
    directory = 0
    while total < size:
        directory += 1
        block = [
            f"./usr/share/doc/package-{directory}/sub:\r\n",
            f"total {rng.randint(0, 999)}\r\n",
        ]
        for _ in range(rng.randint(3, 40)):
            name = "".join(
                rng.choices("abcdefghijklmnopqrstuvwxyz_-.0123456789", k=rng.randint(3, 24))
            )
            colour = rng.choice(colours)
            size_field, minute = rng.randint(0, 10**7), rng.randint(0, 59)
            block.append(
                f"-rw-r--r-- 1 user group {size_field:>9} Nov 21 10:{minute:02} "
                f"\x1b[{colour}m{name}\x1b[0m\r\n"
            )
        block.append("\r\n")
        text = "".join(block)
        out.append(text)
        total += len(text)
    return "".join(out).encode()


def grep_stream(size: int = 3_000_000) -> bytes:
    """`grep -rn --color=always`: an SGR and an EL (CSI K) around every coloured field."""
    rng = random.Random(4)
    words = ["return", "value", "self", "error", "if", "None", "data", "for", "in", "=", "+"]
    out: list[str] = []
    total = 0
    while total < size:
        path = f"src/module{rng.randint(0, 99)}/file{rng.randint(0, 999)}.py"
        before = " ".join(rng.choices(words, k=rng.randint(1, 6)))
        after = " ".join(rng.choices(words, k=rng.randint(0, 6)))
        text = (
            f"\x1b[35m\x1b[K{path}\x1b[m\x1b[K\x1b[36m\x1b[K:\x1b[m\x1b[K"
            f"\x1b[32m\x1b[K{rng.randint(1, 9999)}\x1b[m\x1b[K\x1b[36m\x1b[K:\x1b[m\x1b[K"
            f"    {before} \x1b[01;31m\x1b[Kmatch\x1b[m\x1b[K {after}\r\n"
        )
        out.append(text)
        total += len(text)
    return "".join(out).encode()


def cjk_stream(size: int = 2_000_000) -> bytes:
    rng = random.Random(2)
    hanzi = [chr(c) for c in range(0x4E00, 0x4E00 + 2000)]
    out: list[str] = []
    total = 0
    while total < size:
        line = "".join(
            rng.choice(hanzi) if rng.random() < 0.85 else " " for _ in range(rng.randint(5, 70))
        )
        text = f"{line}。\r\n"
        out.append(text)
        total += len(text.encode())
    return "".join(out).encode()


def vim_stream(size: int = 2_000_000) -> bytes:
    """Screen updates of a full-screen editor: cursor addressing, erases, syntax colours, scroll
    regions, cursor hiding; lines feeds are rare."""
    rng = random.Random(3)
    words = [
        "def",
        "return",
        "self",
        "if",
        "else",
        "for",
        "in",
        "import",
        "class",
        "None",
        "x",
        "(",
        ")",
        ":",
    ]
    colours = ["\x1b[38;5;130m", "\x1b[1;34m", "\x1b[32m", "\x1b[m", "\x1b[38;2;200;100;50m"]
    out: list[str] = []
    total = 0
    while total < size:
        frame = ["\x1b[?25l"]
        kind = rng.random()
        if kind < 0.2:  # scroll the text area by a line (as vim does for j at the bottom)
            frame.append("\x1b[1;23r\x1b[23;1H\n\x1b[r\x1b[23;1H\x1b[K")
        elif kind < 0.3:  # full redraw
            frame.append("\x1b[H\x1b[2J")
        rows = rng.sample(range(1, 24), rng.randint(1, 8) if kind >= 0.3 else 23)
        for row in rows:
            frame.append(f"\x1b[{row};1H\x1b[K")
            frame.append(f"\x1b[33m{row:>4} \x1b[m")
            for _ in range(rng.randint(0, 9)):
                frame.append(rng.choice(colours) + rng.choice(words) + " ")
        line, column = rng.randint(1, 999), rng.randint(1, 80)
        frame.append(f"\x1b[24;1H\x1b[K\x1b[1m-- INSERT --\x1b[m\x1b[24;60H{line},{column}")
        frame.append(f"\x1b[{rng.randint(1, 23)};{rng.randint(1, 80)}H\x1b[?25h")
        text = "".join(frame)
        out.append(text)
        total += len(text)
    return "".join(out).encode()


# --- feeding -----------------------------------------------------------------------------------
def slices(data: bytes) -> list[bytes]:
    return [data[i : i + SLICE] for i in range(0, len(data), SLICE)]


def rate(feed: Callable[[bytes], None], data: bytes) -> float:
    pieces = slices(data)
    start = time.perf_counter()
    for piece in pieces:
        feed(piece)
    return len(data) / (time.perf_counter() - start) / 1e6


def moshd_rate(
    data: bytes, size: tuple[int, int], fast_path: bool, scrollback: bool = False
) -> float:
    """`scrollback`: keep the lines that scroll off, as the daemon's native sessions do."""
    emulator = Emulator(*size, fast_path=fast_path, history=History() if scrollback else None)
    mbps = rate(emulator.feed, data)
    emulator.snapshot()
    return mbps


def pyte_rate(data: bytes, size: tuple[int, int]) -> float:
    screen = pyte.Screen(*size)
    stream = pyte.ByteStream(screen)

    def feed(piece: bytes) -> None:
        with contextlib.suppress(Exception):  # pyte raises on some sequences
            stream.feed(piece)

    return rate(feed, data)


def daemon_loop(data: bytes, size: tuple[int, int]) -> tuple[float, int]:
    """The session's reader: 16 KiB slices, a snapshot each 20 ms of work (the transport asks
    for frames far less often than that during a flood)."""
    emulator = Emulator(*size, history=History())  # as a native session's
    snapshots = 0
    start = last = time.perf_counter()
    for piece in slices(data):
        emulator.feed(piece)
        emulator.take_replies()
        now = time.perf_counter()
        if now - last >= SNAPSHOT_EVERY:
            emulator.snapshot()
            snapshots += 1
            last = now
    emulator.snapshot()
    return time.perf_counter() - start, snapshots + 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="80x24", help="screen WIDTHxHEIGHT")
    parser.add_argument("--cap-mb", type=float, default=3.0, help="MB fed to the slow emulators")
    parser.add_argument("--no-pyte", action="store_true", help="skip stock pyte")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    size = (width, height)
    cap = int(args.cap_mb * 1e6)
    streams = {
        "seq 1 2000000": seq_stream(),
        "yes (2 MB)": yes_stream(),
        "ls -lR, coloured": ls_stream(),
        "grep --color": grep_stream(),
        "CJK text": cjk_stream(),
        "vim-like session": vim_stream(),
    }
    print(f"emulator throughput, {width}x{height}, {SLICE // 1024} KiB slices, MB/s")
    print(
        f"{'stream':<20} {'MB':>6} {'scrollback':>11} {'fast path':>10} {'no fast path':>13} "
        f"{'stock pyte':>11}"
    )
    for name, data in streams.items():
        kept = moshd_rate(data, size, True, scrollback=True)
        fast = moshd_rate(data, size, True)
        slow = moshd_rate(data[:cap], size, False)
        stock = "-" if args.no_pyte else f"{pyte_rate(data[:cap], size):.2f}"
        print(
            f"{name:<20} {len(data) / 1e6:>6.1f} {kept:>11.1f} {fast:>10.1f} {slow:>13.2f} "
            f"{stock:>11}"
        )
    seq = streams["seq 1 2000000"]
    seconds, count = daemon_loop(seq, size)
    print(
        f"\ndaemon loop, seq 1 2000000 ({len(seq) / 1e6:.1f} MB), 16 KiB slices, "
        f"snapshot every 20 ms: {seconds:.2f} s, {count} snapshots "
        f"(upstream mosh end to end: ~{UPSTREAM_SEQ_SECONDS} s)"
    )


if __name__ == "__main__":
    main()
