"""What an attached, idle session costs: CPU ticks and context switches of the client and the
server, summed over their threads, while nothing happens. Shared by the idle test and bench/."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .ptydriver import PtyClient
from .sides import Side, wait_for_prompt

SETTLE = 2.0


@dataclass
class Counters:
    ticks: int
    switches: int
    threads: frozenset[int]

    def __sub__(self, other: Counters) -> Counters:
        return Counters(
            self.ticks - other.ticks, self.switches - other.switches, self.threads | other.threads
        )


def counters(pid: int) -> Counters:
    """utime+stime and voluntary+nonvoluntary context switches, summed over the threads."""
    ticks = switches = 0
    threads = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
            status = (task / "status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended between listing and reading
        fields = stat.rsplit(")", 1)[1].split()  # fields[0] is field 3, the state
        ticks += int(fields[11]) + int(fields[12])  # fields 14 and 15: utime, stime
        for line in status.splitlines():
            if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                switches += int(line.split()[1])
        threads.add(int(task.name))
    return Counters(ticks, switches, frozenset(threads))


@dataclass
class Idle:
    client: Counters
    server: Counters
    threads_changed: bool


def measure(side: Side, seconds: float) -> Idle:
    assert side.server_pid is not None, f"no server pid for {side.name}"
    client = PtyClient([*side.client_argv, "127.0.0.1", str(side.port)], side.env)
    try:
        wait_for_prompt(client, timeout=30)
        pump_for(client, SETTLE)
        client_before, server_before = counters(client.process.pid), counters(side.server_pid)
        pump_for(client, seconds)
        client_after, server_after = counters(client.process.pid), counters(side.server_pid)
        changed = (
            client_before.threads != client_after.threads
            or server_before.threads != server_after.threads
        )
        return Idle(client_after - client_before, server_after - server_before, changed)
    finally:
        client.close()


def pump_for(client: PtyClient, seconds: float) -> None:
    """Read what the client draws for `seconds`, blocking in select between reads."""
    deadline = time.monotonic() + seconds
    remaining = seconds
    while remaining > 0:
        client.pump(remaining)
        remaining = deadline - time.monotonic()
