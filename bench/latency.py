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
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.harness import BIN, SHELL, RealDaemon  # noqa: E402
from tests.e2e.ptydriver import PtyClient, typing_latencies  # noqa: E402
from tests.impair import ProxyProcess  # noqa: E402

UPSTREAM_SERVER = Path("/usr/bin/mosh-server")
UPSTREAM_CLIENT = Path("/usr/bin/mosh-client")
TEXT = "echo the quick brown fox jumps over the lazy dog"


@dataclass
class Result:
    name: str
    latencies: list[float]

    def row(self) -> str:
        ms = sorted(x * 1000 for x in self.latencies)
        median = statistics.median(ms)
        p90 = ms[int(0.9 * (len(ms) - 1))]
        fast = sum(1 for x in ms if x < 20) / len(ms)
        return f"{self.name:<28} {median:>9.1f} {p90:>9.1f} {fast:>10.0%} {len(ms):>6}"


def measure(
    name: str, argv: list[str], env: dict[str, str], args: argparse.Namespace, port: int
) -> Result:
    half = args.rtt / 2
    link = {"delay": half, "loss": args.loss}
    with ProxyProcess(("127.0.0.1", port), up=link, down=link, seed=7) as proxy:
        host, proxy_port = proxy.address
        client = PtyClient([*argv, host, str(proxy_port)], env)
        try:
            client.wait_for(lambda s: "$" in s.text_lines()[s.cursor_row], 20, "prompt")
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
            client.type(b"\x15")  # Ctrl-U: leave the shell line empty
            return Result(name, latencies)
        finally:
            client.close()


def ours(args: argparse.Namespace, mode: str) -> Result:
    daemon = RealDaemon(ports="64800:64899")
    daemon.start()
    try:
        session = daemon.new_session(*SHELL)
        env = dict(daemon.env, MOSH_KEY=session.key, MOSH_PREDICTION_DISPLAY=mode)
        return measure(
            f"moshd --predict={mode}", [str(BIN / "mosh-client")], env, args, session.port
        )
    finally:
        daemon.stop()


def upstream(args: argparse.Namespace, mode: str) -> Result | None:
    if not (UPSTREAM_SERVER.exists() and UPSTREAM_CLIENT.exists()):
        return None
    env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8", PS1="$ ", TERM="xterm-256color")
    out = subprocess.run(
        [str(UPSTREAM_SERVER), "new", "-i", "127.0.0.1", "-p", "64950", "--", *SHELL],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    match = re.search(r"MOSH CONNECT (\d+) (\S+)", out.stdout)
    pid = re.search(r"pid = (\d+)", out.stderr)
    if not match:
        print(f"upstream mosh-server did not start: {out.stderr.strip()}", file=sys.stderr)
        return None
    client_env = dict(env, MOSH_KEY=match.group(2), MOSH_PREDICTION_DISPLAY=mode)
    try:
        return measure(
            f"mosh 1.4 --predict={mode}",
            [str(UPSTREAM_CLIENT)],
            client_env,
            args,
            int(match.group(1)),
        )
    finally:
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid.group(1)), signal.SIGTERM)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt", type=float, default=0.250)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--gap", type=float, default=0.150, help="seconds between keys")
    parser.add_argument("--loss", type=float, default=0.0, help="loss each way (0-1)")
    parser.add_argument("--modes", default="adaptive,never", help="prediction modes to run")
    args = parser.parse_args()
    results: list[Result] = []
    for mode in args.modes.split(","):
        results.append(ours(args, mode))
        theirs = upstream(args, mode)
        if theirs:
            results.append(theirs)
    print(
        f"keystroke to screen, RTT {args.rtt * 1000:.0f} ms, loss {args.loss:.0%} each way, "
        f"a key every {args.gap * 1000:.0f} ms"
    )
    print(f"{'client':<28} {'median ms':>9} {'p90 ms':>9} {'< 20 ms':>10} {'keys':>6}")
    for result in results:
        print(result.row())
    if not UPSTREAM_CLIENT.exists():
        print("(upstream mosh not installed: apt-get install mosh)")


if __name__ == "__main__":
    main()
