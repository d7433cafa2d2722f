"""The end-to-end scenario run inside with-user-systemd.sh (a real `systemd --user` and a
real journald): `python -m tests.systemd.user_systemd_scenario`. Exit status 0 on success;
on failure, the assertion plus the unit's status and the journal.

Socket activation starts moshd on the first `mosh-server new`; two scripted clients attach
to two sessions, one of them through the impairment proxy, which then moves it to another
source address (a roam); journalctl finds that roam by its fields; `systemctl --user stop`
hangs both sessions up cleanly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import trio

from moshd.journal import JournalLogger
from ssp.transport import ShutdownRequested
from tests.integration.sspclient import ScriptedClient, scripted_client
from tests.systemd.helpers import CONNECT, MOSH_SERVER, install_units
from testsupport.impair import open_proxy

PORTS = "63450:63499"
UNIT = "moshd.service"
SESSION_ID = re.compile(r"session (\w+) on UDP port")


def step(text: str) -> None:
    print(f"[scenario {time.monotonic() - T0:5.2f}s] {text}", flush=True)


T0 = time.monotonic()


async def run(*argv: str, check: bool = True) -> str:
    result = await trio.run_process(
        list(argv), capture_stdout=True, capture_stderr=True, check=False
    )
    out = result.stdout.decode() + result.stderr.decode()
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {result.returncode}:\n{out}")
    return out


async def systemctl(*args: str, check: bool = True) -> str:
    return await run("systemctl", "--user", "--no-pager", *args, check=check)


async def journal(*matches: str) -> list[dict[str, Any]]:
    out = await run(
        "journalctl", "--no-pager", "-o", "json", f"_SYSTEMD_USER_UNIT={UNIT}", *matches
    )
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


async def journal_wait(
    *matches: str, count: int = 1, timeout: float = 10.0
) -> list[dict[str, Any]]:
    """Entries matching, once there are `count` of them (journald writes asynchronously)."""
    with trio.move_on_after(timeout):
        while len(entries := await journal(*matches)) < count:
            await trio.sleep(0.1)
        return entries
    raise AssertionError(
        f"fewer than {count} journal entries for {matches}: {await journal(*matches)}"
    )


async def new_session() -> tuple[int, str, str]:
    result = await trio.run_process(
        [str(MOSH_SERVER), "new", "--", "/bin/sh"],
        env={**os.environ, "MOSHD_PROTOCOL": "native"},  # the scripted client speaks native
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    stdout, stderr = result.stdout.decode(), result.stderr.decode()
    connect, session = CONNECT.search(stdout), SESSION_ID.search(stderr)
    assert result.returncode == 0 and connect and session, stdout + stderr
    return int(connect.group(1)), connect.group(2), session.group(1)


async def wait_for_shutdown(client: ScriptedClient, timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        while not any(isinstance(event, ShutdownRequested) for event in client.events):
            await trio.sleep(0.02)


async def big_entry_reaches_journald() -> None:
    """An entry larger than any datagram travels as a sealed memfd; journald must take it."""
    logger = JournalLogger()
    big = "0123456789abcdef" * (512 * 1024 // 16)
    logger.msg([("MESSAGE", "big\n" + big), ("EVENT", "scenario.big_entry")])
    logger.close()
    with trio.fail_after(10):
        while True:
            out = await run(
                "journalctl", "--no-pager", "--all", "-o", "json", "EVENT=scenario.big_entry"
            )
            if out.strip():
                break
            await trio.sleep(0.1)
    assert json.loads(out.splitlines()[0])["MESSAGE"] == "big\n" + big


async def scenario() -> None:
    runtime = Path(os.environ["XDG_RUNTIME_DIR"])
    assert os.environ.get("WITH_USER_SYSTEMD") == "1", "run me under with-user-systemd.sh"
    # WatchdogSec=3s: moshd's pings must reach the manager, or it would be killed mid-test.
    install_units(
        runtime / "systemd" / "user",
        environment={"MOSHD_BIND": "127.0.0.1", "MOSHD_PORT": PORTS},
        WatchdogSec="3s",
    )
    await big_entry_reaches_journald()
    step("journald took a 512 KiB entry (memfd)")
    await systemctl("daemon-reload")
    await systemctl("start", "moshd.socket")
    assert (await systemctl("is-active", UNIT, check=False)).strip() == "inactive"
    assert (runtime / "moshd" / "control.sock").is_socket()

    step("first mosh-server new: socket activation starts moshd")
    port, key1, sid1 = await new_session()
    assert (await systemctl("is-active", UNIT)).strip() == "active"
    assert f'Status: "1 session on UDP port {port}"' in await systemctl("status", UNIT)
    port2, key2, sid2 = await new_session()
    assert port2 == port  # one UDP port for every session
    status = await systemctl("status", UNIT)
    assert f'Status: "2 sessions on UDP port {port}"' in status, status
    step(
        f"sessions {sid1} and {sid2}; "
        + next(line.strip() for line in status.splitlines() if "Status:" in line)
    )

    async with (
        open_proxy(server=("127.0.0.1", port), seed=7) as proxy,
        scripted_client(*proxy.address, key1) as one,
        scripted_client("127.0.0.1", port, key2) as two,
    ):
        one.type(b"echo ONE=$((1+1))\r")
        two.type(b"echo TWO=$((2+2))\r")
        await one.wait_for_text("ONE=2")
        await two.wait_for_text("TWO=4")
        old_peer = proxy.source_address
        new_peer = await proxy.new_source_address("127.0.0.2")
        step(f"roaming {sid1}: {old_peer} -> {new_peer}")
        one.type(b"echo ROAMED=$((3*3))\r")
        await one.wait_for_text("ROAMED=9")

        roams = await journal_wait("EVENT=session.roamed", f"SESSION_ID={sid1}")
        roam = roams[-1]
        assert roam["OLD_PEER"] == f"{old_peer[0]}:{old_peer[1]}", roam
        assert roam["NEW_PEER"] == f"{new_peer[0]}:{new_peer[1]}", roam
        assert roam["PRIORITY"] == "6" and roam["SYSLOG_IDENTIFIER"] == "moshd", roam
        assert roam["MESSAGE"].startswith("session.roamed "), roam
        # the brief's own query, through --user-unit
        by_unit = await run(
            "journalctl", "--no-pager", f"--user-unit={UNIT}", "EVENT=session.roamed", "-o", "json"
        )
        assert sid1 in by_unit and roam["NEW_PEER"] in by_unit, by_unit
        attached = await journal_wait("EVENT=session.attached", f"SESSION_ID={sid2}")
        assert attached[0]["PEER"].startswith("127.0.0.1:"), attached
        rtt = await journal_wait("EVENT=session.rtt", f"SESSION_ID={sid2}")
        assert float(rtt[0]["SRTT_MS"]) >= 0 and "RTT_MS" in rtt[0], rtt
        shown = {k: v for k, v in roam.items() if not k.startswith("_") and "CURSOR" not in k}
        step(f"journal: roam, attach and rtt entries found by their fields; the roam: {shown}")

        await systemctl("reload", UNIT)
        await journal_wait("EVENT=daemon.reloaded")
        two.type(b"echo AFTER=$((5*5))\r")
        await two.wait_for_text("AFTER=25")  # a reload leaves sessions alone
        step("reload: logged, sessions intact")

        # stop while the clients run, so that they can acknowledge their shutdown
        started = time.monotonic()
        await systemctl("stop", UNIT)
        stop_took = time.monotonic() - started
        await wait_for_shutdown(one)
        await wait_for_shutdown(two)
        step(f"stop took {stop_took:.2f}s; both clients got their shutdown")

    closed = await journal_wait("EVENT=session.closed", "REASON=daemon_stopping", count=2)
    assert {entry["SESSION_ID"] for entry in closed} == {sid1, sid2}, closed
    assert stop_took < 10, f"stop took {stop_took:.1f}s: moshd did not exit by itself"
    show = await systemctl("show", "-p", "Result", "-p", "ActiveState", UNIT)
    assert "Result=success" in show and "ActiveState=inactive" in show, show
    everything = await run("journalctl", "--no-pager", "-o", "json")
    for key in (key1, key2):
        assert key not in everything, "a session key reached the journal"
    step("journal: both sessions closed with reason daemon_stopping; no key logged")

    # moshd left systemd's socket in place, so the next mosh-server starts it again; and
    # stopping the socket unit (Wants=, not Requires=) leaves the daemon and its sessions be.
    await new_session()
    assert (await systemctl("is-active", UNIT)).strip() == "active"
    await systemctl("stop", "moshd.socket")
    assert (await systemctl("is-active", UNIT)).strip() == "active"
    assert "sessions: 1" in (await run(str(MOSH_SERVER), "status")).lower()
    await systemctl("stop", UNIT)
    step("re-activated by the next mosh-server new; survives the socket unit's stop")


async def main() -> int:
    try:
        with trio.fail_after(60):
            await scenario()
    except BaseException as exc:
        print(f"SCENARIO FAILED: {exc!r}", file=sys.stderr, flush=True)
        for argv in (
            ["systemctl", "--user", "--no-pager", "status", "moshd.socket", UNIT],
            ["journalctl", "--no-pager", "-o", "short-precise", "-n", "80"],
        ):
            listing = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
            print(f"$ {' '.join(argv)}\n{listing.stdout}{listing.stderr}", file=sys.stderr)
        raise
    step("all good")
    return 0


if __name__ == "__main__":
    sys.exit(trio.run(main))
