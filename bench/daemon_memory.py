"""Daemon memory and idle CPU per session, beside upstream mosh-server where it is installed.

    python bench/daemon_memory.py [--sessions 1,10,100,1000]

Starts a private moshd (its own runtime dir, loopback, ports 63000-63999), opens idle sessions
running `sleep`, and reads the daemon's resident set size from /proc. Upstream runs one
mosh-server process per session, so its per-session cost is one process's RSS.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moshd.control import DaemonUnreachable, request


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(control: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            request(control, {"op": "status"}, timeout=1)
            return
        except DaemonUnreachable:
            time.sleep(0.05)
    raise SystemExit("moshd did not start")


def measure_moshd(counts: list[int]) -> list[tuple[int, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        control = Path(tmp) / "control.sock"
        env = dict(os.environ, MOSHD_PORT="63000:63999", MOSHD_BIND="127.0.0.1")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "moshd", "--control", str(control), "--log-level", "warning"],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(control)
            results = []
            opened = 0
            for count in counts:
                while opened < count:
                    reply = request(control, {"op": "new", "command": ["sleep", "1000000"]})
                    assert reply["ok"], reply
                    opened += 1
                time.sleep(1.0)
                results.append((count, rss_kib(daemon.pid)))
            before = cpu_seconds(daemon.pid)
            time.sleep(5.0)
            idle_cpu = cpu_seconds(daemon.pid) - before
            print(f"moshd idle CPU with {opened} sessions over 5 s: {idle_cpu:.3f} s")
            return results
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=15)


def measure_upstream() -> int | None:
    """RSS of one idle upstream mosh-server, in KiB (None if not installed)."""
    if shutil.which("mosh-server") is None or "moshd" in (shutil.which("mosh-server") or ""):
        return None
    binary = "/usr/bin/mosh-server"
    if not Path(binary).exists():
        return None
    env = dict(os.environ, LANG="C.UTF-8")
    out = subprocess.run(
        [binary, "new", "-i", "127.0.0.1", "-p", "63500", "--", "sleep", "1000000"],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    match = re.search(r"pid = (\d+)", out.stderr)
    if not match:
        return None
    pid = int(match.group(1))
    try:
        time.sleep(1.0)
        return rss_kib(pid)
    finally:
        os.kill(pid, signal.SIGTERM)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", default="1,10,100,1000")
    counts = [int(n) for n in parser.parse_args().sessions.split(",")]
    results = measure_moshd(counts)
    upstream = measure_upstream()
    base_count, base_rss = results[0]
    print(f"{'sessions':>8}  {'moshd RSS':>10}  {'per extra session':>17}  {'upstream total':>14}")
    for count, rss in results:
        extra = (rss - base_rss) / (count - base_count) if count > base_count else float("nan")
        up = f"{upstream * count / 1024:.1f} MiB" if upstream else "n/a"
        print(f"{count:>8}  {rss / 1024:>6.1f} MiB  {extra / 1024:>13.2f} MiB  {up:>14}")
    if upstream:
        print(f"upstream mosh-server: {upstream / 1024:.2f} MiB per session (one process each)")
    else:
        print("upstream mosh-server: not installed (apt-get install mosh)")


if __name__ == "__main__":
    main()
