"""moshd started the way systemd starts it: `systemd-socket-activate` hands it the listening
control socket (LISTEN_FDS) on the first connection, and the test plays the manager's
notify socket. No systemd manager is involved, so this runs anywhere systemd is installed."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

from ssp.transport import ShutdownRequested
from tests.integration.sspclient import scripted_client

from .helpers import CONNECT, MOSH_SERVER, MOSHD, NotifyListener, notify_listener, require

pytestmark = pytest.mark.trio
PORTS = "63400:63449"


@dataclass
class Activated:
    process: subprocess.Popen[bytes]
    notify: NotifyListener
    control: Path
    env: dict[str, str]
    log: Path


@asynccontextmanager
async def socket_activated_moshd(*moshd_args: str) -> AsyncIterator[Activated]:
    require("systemd-socket-activate")
    with tempfile.TemporaryDirectory(prefix="moshd-sa-") as tmp:
        root = Path(tmp)
        runtime = root / "run"
        (runtime / "moshd").mkdir(parents=True, mode=0o700)
        runtime.chmod(0o700)
        control = runtime / "moshd" / "control.sock"
        env = {
            "NOTIFY_SOCKET": str(root / "notify"),
            "WATCHDOG_USEC": "400000",
            "XDG_RUNTIME_DIR": str(runtime),
            "MOSHD_BIND": "127.0.0.1",
            "MOSHD_PORT": PORTS,
            "HOME": str(root),
            "PS1": "$ ",
        }
        # systemd-socket-activate passes on only what -E names (plus PATH, TERM, USER, HOME)
        argv = ["systemd-socket-activate", "-l", str(control), "--fdname=control"]
        argv += [f"-E{name}={value}" for name, value in env.items()]
        argv += [str(MOSHD), "--log-format", "json", *moshd_args]
        log = root / "moshd.log"
        async with notify_listener(root / "notify") as notify:
            with open(log, "wb") as log_file:
                process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT)
            try:
                with trio.fail_after(10):
                    while not control.exists():
                        assert process.poll() is None, log.read_text()
                        await trio.sleep(0.02)
                yield Activated(process, notify, control, {**os.environ, **env}, log)
            finally:
                if process.poll() is None:
                    process.kill()
                process.wait(timeout=10)


async def mosh_server_new(env: dict[str, str], *command: str) -> tuple[int, str]:
    result = await trio.run_process(
        [str(MOSH_SERVER), "new", "--", *command],
        env={**env, "MOSHD_PROTOCOL": "native"},  # the scripted client speaks native
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    match = CONNECT.search(result.stdout.decode())
    assert result.returncode == 0 and match, result.stderr.decode()
    return int(match.group(1)), match.group(2)


async def test_socket_activated_moshd_notifies_serves_and_stops() -> None:
    async with socket_activated_moshd() as moshd:
        # Nothing runs until the first connection: then the very same process becomes moshd.
        assert b"systemd-socket-activate" in Path(f"/proc/{moshd.process.pid}/cmdline").read_bytes()
        with trio.fail_after(20):
            port, key = await mosh_server_new(moshd.env, "/bin/sh")
        ready = await moshd.notify.wait_for("READY", "1")
        assert ready["STATUS"] == f"0 sessions on UDP port {port}"
        await moshd.notify.wait_for("STATUS", f"1 session on UDP port {port}")
        await moshd.notify.wait_for("WATCHDOG", "1")  # WATCHDOG_USEC set: pings come

        async with scripted_client("127.0.0.1", port, key) as client:
            # The session's shell inherits neither the activation variables nor our fds.
            client.type(b"echo R=$((6*7)) L=${LISTEN_FDS-none} N=${NOTIFY_SOCKET-none}\r")
            await client.wait_for_text("R=42 L=none N=none")

            moshd.process.send_signal(signal.SIGHUP)  # systemctl reload
            await moshd.notify.wait_for("RELOADING", "1")
            client.type(b"echo still $((1+1))\r")
            await client.wait_for_text("still 2")  # a reload never touches sessions

            moshd.process.send_signal(signal.SIGTERM)
            stopping = await moshd.notify.wait_for("STOPPING", "1")
            assert stopping["STATUS"] == "stopping: hanging up 1 session"
            with trio.fail_after(10):
                while not any(isinstance(e, ShutdownRequested) for e in client.events):
                    await trio.sleep(0.02)
        with trio.move_on_after(10):
            while moshd.process.poll() is None:
                await trio.sleep(0.02)
        assert moshd.process.poll() is not None, "moshd did not exit:\n" + moshd.log.read_text()
        await moshd.notify.wait_for("STATUS", "stopped")
        log = moshd.log.read_text()
        assert moshd.process.returncode == 0, log
        assert '"socket_activated": true' in log
        assert '"event": "daemon.reloaded"' in log
        assert '"reason": "daemon_stopping"' in log
        # The socket file is systemd's: an activated moshd must not remove it on the way out.
        assert moshd.control.exists()


async def test_without_activation_moshd_binds_its_own_socket_and_still_notifies() -> None:
    with tempfile.TemporaryDirectory(prefix="moshd-sa-") as tmp:
        root = Path(tmp)
        runtime = root / "run"
        runtime.mkdir(mode=0o700)
        env = {
            **os.environ,
            "NOTIFY_SOCKET": str(root / "notify"),
            "XDG_RUNTIME_DIR": str(runtime),
            "MOSHD_BIND": "127.0.0.1",
            "MOSHD_PORT": PORTS,
        }
        log = root / "moshd.log"
        async with notify_listener(root / "notify") as notify:
            with open(log, "wb") as log_file:
                process = subprocess.Popen(
                    [str(MOSHD), "--log-format", "json"], env=env, stdout=log_file, stderr=log_file
                )
            try:
                ready = await notify.wait_for("READY", "1")
                assert ready["STATUS"].startswith("0 sessions on UDP port 634")
                assert (runtime / "moshd" / "control.sock").exists()
                process.send_signal(signal.SIGTERM)
                await notify.wait_for("STOPPING", "1")
                with trio.move_on_after(10):
                    while process.poll() is None:
                        await trio.sleep(0.02)
                assert process.returncode == 0, log.read_text()
                assert not (runtime / "moshd" / "control.sock").exists()  # ours: cleaned up
            finally:
                if process.poll() is None:
                    process.kill()
                process.wait(timeout=10)
