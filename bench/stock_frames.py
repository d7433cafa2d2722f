"""Bytes per frame a stock mosh client receives: moshd's protocol-2 sessions beside upstream's
mosh-server 1.4, for a typed character, a one-line scroll and a status-line update.

The client is this project's protocol-2 endpoint (the wire a stock mosh-client speaks) on a
blocking UDP socket; each server runs the same little program. For each action the client
sends the keystrokes, then counts the datagrams that come back until the screen settles:
wire bytes (whole datagrams, acks included) and hoststring bytes (the escape sequences).

    .venv/bin/python bench/stock_frames.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ssp.proto2.key import Proto2Key
from ssp.proto2.messages import HostBytes, decode_host_message
from ssp.proto2.userstream import Proto2UserStream
from ssp.proto2.wire import Proto2Wire
from ssp.transport import Endpoint
from testsupport.harness import RealDaemon

UPSTREAM = Path("/usr/bin/mosh-server")
# No echo: all output is the program's. "l..." prints a line (a scroll once the screen is
# full), "s..." rewrites a status line at the bottom, anything else is echoed in place.
PROGRAM = (
    "stty -echo; i=0; while IFS= read -r l; do i=$((i+1)); case $l in "
    "l*) printf '%s\\n' \"$l\";; "
    "s*) printf '\\0337\\033[24;1H\\033[7m status %s %d \\033[0m\\0338' \"$l\" $i;; "
    "*) printf '%s' \"$l\";; esac; done"
)
CONNECT = re.compile(r"MOSH CONNECT (\d+) ([A-Za-z0-9+/]{22})")


class HostBytesLog:
    """Client-side state: counts what arrives (a SyncState that only ever applies)."""

    def __init__(self) -> None:
        self.hostbytes = 0
        self.frames = 0

    def copy(self) -> HostBytesLog:
        clone = HostBytesLog()
        clone.hostbytes, clone.frames = self.hostbytes, self.frames
        return clone

    def diff_from(self, old: HostBytesLog) -> bytes:
        raise NotImplementedError

    def apply(self, diff: bytes) -> None:
        for item in decode_host_message(diff):
            if isinstance(item, HostBytes):
                self.hostbytes += len(item.hoststring)
                self.frames += 1

    def subtract(self, prefix: HostBytesLog) -> None:
        pass

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HostBytesLog) and other.frames == self.frames


class Client:
    def __init__(self, port: int, key: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.server = ("127.0.0.1", port)
        self.endpoint: Endpoint[Proto2UserStream, HostBytesLog] = Endpoint(
            Proto2Key.from_text(key),
            "client",
            Proto2UserStream(),
            HostBytesLog(),
            time.monotonic(),
            peer=self.server,
            wire=Proto2Wire,
        )
        self.wire_bytes = 0
        self.first_frame_at: float | None = None  # of the hoststring after the last `type`

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (now := time.monotonic()) < end:
            for data, addr in self.endpoint.datagrams_to_send(now):
                self.sock.sendto(data, addr)
            wait = min(self.endpoint.next_deadline(), end) - time.monotonic()
            self.sock.settimeout(min(max(wait, 0.001), 0.02))
            try:
                data, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.wire_bytes += len(data)
            before = self.endpoint.remote_state.hostbytes
            self.endpoint.receive_datagram(data, addr, time.monotonic())
            if self.first_frame_at is None and self.endpoint.remote_state.hostbytes > before:
                self.first_frame_at = time.monotonic()

    def type(self, keys: bytes) -> None:
        self.endpoint.local_state.push_keystroke(keys)
        self.endpoint.local_state_changed(time.monotonic())

    def measure(self, keys: bytes, settle: float = 0.4) -> tuple[int, int, float]:
        """(wire bytes, hoststring bytes, ms until the first frame) that answer `keys`."""
        self.pump(0.3)  # let acks of what came before go by
        wire, host = self.wire_bytes, self.endpoint.remote_state.hostbytes
        self.first_frame_at = None
        typed_at = time.monotonic()
        self.type(keys)
        self.pump(settle)
        latency = (self.first_frame_at or float("nan")) - typed_at
        return (
            self.wire_bytes - wire,
            self.endpoint.remote_state.hostbytes - host,
            latency * 1000,
        )


def run(client: Client, repeat: int) -> dict[str, tuple[float, float, float]]:
    client.endpoint.local_state.push_resize(80, 24)
    client.endpoint.local_state_changed(time.monotonic())
    client.pump(1.0)
    for n in range(30):  # fill the screen, so that each new line scrolls it
        client.type(b"lfill %d\r" % n)
    client.pump(1.0)
    results: dict[str, list[tuple[int, int, float]]] = {
        "typed char": [],
        "scroll": [],
        "status": [],
    }
    for n in range(repeat):
        results["typed char"].append(client.measure(b"x\r"))
        results["scroll"].append(client.measure(b"line %d\r" % n))
        results["status"].append(client.measure(b"s%d\r" % n))
    return {
        name: (
            statistics.median(row[0] for row in rows),
            statistics.median(row[1] for row in rows),
            statistics.median(row[2] for row in rows),
        )
        for name, rows in results.items()
    }


def upstream_session() -> tuple[int, str, int]:
    env = dict(os.environ, LANG="C.UTF-8")
    out = subprocess.run(
        [str(UPSTREAM), "new", "-i", "127.0.0.1", "-p", "63700:63799", "--", "sh", "-c", PROGRAM],
        capture_output=True,
        text=True,
        env=env,
        timeout=20,
    )
    match = CONNECT.search(out.stdout)
    pid = re.search(r"pid = (\d+)", out.stderr)
    if not match or not pid:
        raise RuntimeError(f"upstream mosh-server did not start: {out.stderr}")
    return int(match.group(1)), match.group(2), int(pid.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rows: dict[str, dict[str, tuple[float, float, float]]] = {}
    daemon = RealDaemon(ports="63600:63699")
    daemon.start()
    try:
        session = daemon.new_session("sh", "-c", PROGRAM, protocol="proto2")
        rows["moshd"] = run(Client(session.port, session.key), args.repeat)
    finally:
        daemon.stop()
    if UPSTREAM.exists():
        port, key, pid = upstream_session()
        try:
            rows["upstream 1.4"] = run(Client(port, key), args.repeat)
        finally:
            os.kill(pid, signal.SIGTERM)
    print(
        "medians per action, as a protocol-2 client receives them: wire bytes / hoststring"
        " bytes / ms from the keystroke to the first frame (loopback)"
    )
    print(f"{'action':<12}" + "".join(f"{side:>28}" for side in rows))
    for action in ("typed char", "scroll", "status"):
        cells = "".join(
            f"{rows[side][action][0]:>12.0f} / {rows[side][action][1]:<4.0f} / "
            f"{rows[side][action][2]:5.1f} ms"
            for side in rows
        )
        print(f"{action:<12}{cells}")


if __name__ == "__main__":
    main()
