"""Nothing one local process does may take the daemon down: zombies, fd exhaustion, start-up
failures. In-process daemon where that suffices, real processes where the point is the process."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from moshd.control import (
    ControlError,
    DaemonUnreachable,
    KillRequest,
    NewRequest,
    PeerCreds,
    StatusRequest,
    request,
)
from moshd.daemon import Daemon

from .sspclient import scripted_client

OURSELVES = PeerCreds(os.getpid(), os.getuid(), os.getgid())


# --------------------------------------------------------------------------------------------
# Zombies


def zombie_children(parent: int) -> set[int]:
    """Pids of `parent`'s children that have exited but were never reaped (state Z)."""
    zombies = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited (and reaped) while we looked
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
        if state == "Z" and int(ppid) == parent:
            zombies.add(int(entry.name))
    return zombies


def catches_sighup(pid: int) -> bool:
    """Whether `pid` has a handler for SIGHUP (/proc's SigCgt mask: bit 0 is signal 1)."""
    status = Path(f"/proc/{pid}/status").read_text()
    [caught] = [line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")]
    return bool(int(caught, 16) & 1 << (signal.SIGHUP - 1))


@pytest.mark.trio
async def test_closed_sessions_leave_no_zombie_children(daemon: Daemon) -> None:
    # Each shell outlives its hangup by a moment (as bash saving its history does), so it exits
    # after its session has closed, when no session task is left to wait for it.
    lingering = ["/bin/sh", "-c", "trap 'sleep 0.5; exit 0' HUP; sleep 60"]
    pids = set()
    for _ in range(40):
        reply = await daemon.create_session(NewRequest(command=lingering))
        session_id = str(reply["session_id"])
        pid = daemon.sessions[session_id].child.pid
        pids.add(pid)
        with trio.fail_after(10):
            while not catches_sighup(pid):  # the trap is set
                await trio.sleep(0.005)
        await daemon.handle_request(KillRequest(session_id), OURSELVES)
    with trio.fail_after(10):
        while daemon.sessions:
            await trio.sleep(0.01)
    # No new spawn from here on: in the past only the next spawn reaped closed sessions' shells.
    with trio.fail_after(5):
        while zombie_children(os.getpid()) & pids:
            await trio.sleep(0.01)


@contextlib.contextmanager
def no_free_file_descriptors() -> Iterator[None]:
    """Within: every new fd fails with EMFILE (a low soft limit, the holes below it filled)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    fillers: list[int] = []
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    try:
        while True:
            try:
                fillers.append(os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC))
            except OSError as error:
                assert error.errno == errno.EMFILE
                break
        yield
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.trio
async def test_new_without_free_file_descriptors_gets_a_clear_error(daemon: Daemon) -> None:
    with no_free_file_descriptors(), pytest.raises(ControlError) as refused:
        await daemon.handle_request(NewRequest(command=["/bin/sh"]), OURSELVES)
    assert refused.value.code == "out_of_fds"
    assert "moshd has run out of file descriptors" in refused.value.message
    assert "its limit is 64" in refused.value.message
    # and once fds are free again, sessions start as before
    reply = await daemon.create_session(NewRequest(command=["/bin/sh"]))
    assert reply["ok"] is True


# --------------------------------------------------------------------------------------------
# A real daemon process

# Sets the fd limit, then becomes `python -m moshd ARGS...`.
_LIMITED = """\
import os, resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
os.execv(sys.executable, [sys.executable, "-m", "moshd", *sys.argv[2:]])
"""


@contextlib.contextmanager
def running_daemon(
    control: Path, log_file: Path, *, fd_limit: int | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    args = ["--control", str(control), "--port", "62500:62599", "--bind", "127.0.0.1"]
    args += ["--log-file", str(log_file)]
    if fd_limit is None:
        argv = [sys.executable, "-m", "moshd", *args]
    else:
        argv = [sys.executable, "-c", _LIMITED, str(fd_limit), *args]
    with open(log_file.with_suffix(".out"), "wb") as output:
        daemon = subprocess.Popen(argv, stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                request(control, StatusRequest(), timeout=1)
                break
            except DaemonUnreachable:
                assert daemon.poll() is None, log_file.with_suffix(".out").read_text()
                assert time.monotonic() < deadline, "moshd did not come up"
                time.sleep(0.05)
        yield daemon
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


@contextlib.contextmanager
def fd_soft_limit_at_least(wanted: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < wanted:
        pytest.skip(f"needs {wanted} file descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_idle_connections(path: Path, count: int) -> list[socket.socket]:
    """`count` attempts; those the kernel refuses (the listen backlog is full) are not kept."""
    connections = []
    for _ in range(count):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        if sock.connect_ex(str(path)) == 0:
            connections.append(sock)
        else:
            sock.close()
    return connections


def read_log(log_file: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]


def test_a_daemon_out_of_fds_survives_1000_idle_connections_and_keeps_its_sessions(
    tmp_path: Path,
) -> None:
    control, log_file = tmp_path / "run" / "control.sock", tmp_path / "moshd.log"
    with (
        fd_soft_limit_at_least(1200),
        running_daemon(control, log_file, fd_limit=64) as daemon,
    ):
        reply = request(control, NewRequest(command=["/bin/sh"]))
        assert reply["ok"], reply
        connections = open_idle_connections(control, 1000)
        try:
            assert len(connections) > 100  # far beyond what 64 fds can accept

            async def type_into_the_session() -> None:
                async with scripted_client("127.0.0.1", reply["port"], reply["key"]) as client:
                    client.type(b"echo still $((40+2))\r")
                    await client.wait_for_text("still 42")

            trio.run(type_into_the_session)
            assert daemon.poll() is None
        finally:
            for connection in connections:
                connection.close()
        # The daemon accepts again once fds are free: the closed connections drain first.
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(DaemonUnreachable):
                status = request(control, StatusRequest(), timeout=1)
                break
            assert time.monotonic() < deadline, "moshd never accepted again"
        assert status["sessions"] == 1
    logs = read_log(log_file)
    failed = [entry for entry in logs if entry["event"] == "control.accept_failed"]
    assert failed and failed[0]["out_of_fds"] is True and failed[0]["errno"] == "EMFILE"
    assert any(entry["event"] == "control.accept_resumed" for entry in logs)
    [limit] = [entry for entry in logs if entry["event"] == "daemon.fd_limit"]
    assert limit["soft"] == limit["hard"] == 64
    assert all(entry["daemon_pid"] == daemon.pid for entry in logs)
    assert "Traceback" not in log_file.with_suffix(".out").read_text()


def test_the_fd_soft_limit_is_raised_to_the_hard_limit(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 512), hard))
    try:
        control, log_file = tmp_path / "run" / "control.sock", tmp_path / "moshd.log"
        with running_daemon(control, log_file) as daemon:
            limits = Path(f"/proc/{daemon.pid}/limits").read_text()
        [line] = [row for row in limits.splitlines() if row.startswith("Max open files")]
        assert line.split()[3:5] == [str(hard), str(hard)]
        [logged] = [entry for entry in read_log(log_file) if entry["event"] == "daemon.fd_limit"]
        assert logged["soft_was"] == min(hard, 512) and logged["soft"] == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# --------------------------------------------------------------------------------------------
# Start-up failures: one line, status 1, no traceback


TEST_PORTS = ("--port", "62600:62699", "--bind", "127.0.0.1")


def foreground_moshd(control: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moshd", "--foreground", "--control", str(control), *TEST_PORTS],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_second_daemon_on_the_same_socket_says_so_in_one_line(tmp_path: Path) -> None:
    control = tmp_path / "run" / "control.sock"
    with running_daemon(control, tmp_path / "moshd.log"):
        second = foreground_moshd(control)
    assert second.returncode == 1
    assert second.stderr.splitlines() == [f"moshd: already running (control socket {control})"]


def test_an_unsafe_control_directory_is_reported_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    result = foreground_moshd(tmp_path / "link" / "control.sock")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"moshd: {tmp_path / 'link'} is not a directory"]
