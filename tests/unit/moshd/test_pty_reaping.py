"""moshd.pty: noticing a child's exit without a pidfd, and reaping closed children."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import trio

from moshd import pty
from moshd.pty import ChildReaper, PtyChild, spawn

ENV = {"PATH": os.defpath, "LC_ALL": "C.UTF-8"}


def state(pid: int) -> str | None:
    """The process state letter (Z: an unreaped zombie), None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat[stat.rindex(")") + 2]


def no_pidfd(pid: int, flags: int = 0) -> int:
    raise OSError(errno.EMFILE, "Too many open files")


@pytest.mark.trio
async def test_wait_exit_without_a_pidfd_falls_back_to_polling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A background job keeps the terminal open, so only the child waiter can see the exit.
    child = spawn(["/bin/sh", "-c", "sleep 0.3; exit 3"], ENV, 80, 24)
    monkeypatch.setattr(pty.os, "pidfd_open", no_pidfd)
    try:
        with trio.fail_after(10):
            assert await child.wait_exit() == 3
    finally:
        child.close()


@pytest.mark.trio
async def test_a_child_closed_while_running_is_reaped_when_it_exits() -> None:
    reaper = ChildReaper()
    async with trio.open_nursery() as nursery:
        await nursery.start(reaper.run)
        # It ignores the hangup and exits a while after the close, as a nohup'ed job would.
        child = spawn(["/bin/sh", "-c", "trap '' HUP; echo ready; sleep 0.3"], ENV, 80, 24)
        output = b""
        with trio.fail_after(10):
            while b"ready" not in output:
                output += await child.read()
        child.hangup()
        child.close(reaper)
        assert child.poll_exit() is None  # still running: only the reaper can collect it
        with trio.fail_after(10):
            while state(child.pid) is not None:  # gone: exited *and* reaped
                assert state(child.pid) != "Z" or child.poll_exit() is None
                await trio.sleep(0.01)
        assert child.process.returncode == 0
        nursery.cancel_scope.cancel()


@pytest.mark.trio
async def test_without_a_reaper_close_still_reaps_a_child_that_has_exited() -> None:
    child: PtyChild = spawn(["/bin/sh", "-c", "exit 0"], ENV, 80, 24)
    with trio.fail_after(10):
        await child.wait_exit()
    child.close()
    assert state(child.pid) is None


def test_programs_get_the_open_files_limit_the_daemon_started_with() -> None:
    # The daemon raises its own soft limit; programs that use select() break past fd 1024, so
    # a session's program gets the conventional limit back (systemd's advice).
    import resource
    import time

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    wanted = min(512, soft)
    child = pty.spawn(
        ["/bin/sh", "-c", "ulimit -n; sleep 1"],
        {"PATH": "/bin:/usr/bin"},
        80,
        24,
        fd_soft_limit=wanted,
    )
    output = b""
    deadline = time.monotonic() + 5
    while b"\n" not in output and time.monotonic() < deadline:
        try:
            output += os.read(child.master_fd, 100)
        except BlockingIOError:
            time.sleep(0.01)
    child.hangup()
    child.kill()
    assert output.split()[0] == str(wanted).encode()
