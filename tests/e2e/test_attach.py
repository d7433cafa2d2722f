"""Reattach (issue #14) end to end: the real `mosh` wrapper over the real sshd, clients in tmux.

A session's client is killed (SIGKILL: a laptop that never came back), and `mosh --attach`
from another terminal, and from another source address, finds the same shell with its
screen; a live client whose session is taken over is told and exits cleanly; attaching to
nothing fails with one clear line.

The second client sends from 127.0.0.2: the wrapper's `--client=PATH` is a script that runs
the real mosh-client towards the impairment proxy, which forwards from that address.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testsupport.harness import BIN, Tmux, report_exit, run_mosh
from testsupport.impair import ProxyProcess
from testsupport.sshd import RemoteMoshd, Sshd

pytestmark = pytest.mark.e2e

MOSH = str(BIN / "mosh")
TAKEN_OVER = "[mosh is exiting: this session was taken over by another client.]"
DETACHED_AFTER = 10.0  # moshd.attachment.DETACHED_AFTER, in the real daemon


@pytest.fixture(scope="module")
def remote() -> Iterator[RemoteMoshd]:
    far_side = RemoteMoshd(bind="127.0.0.1", ports="63700:63749")
    yield far_side
    far_side.stop()


@pytest.fixture
def second_tmux() -> Iterator[Tmux]:
    pane = Tmux()
    yield pane
    pane.kill()


@pytest.fixture(autouse=True)
def no_leftovers(tmux: Tmux, remote: RemoteMoshd) -> Iterator[None]:
    yield
    remote.kill_all()
    deadline = time.monotonic() + 15
    while remote.sessions() and time.monotonic() < deadline:
        time.sleep(0.05)


# --- helpers --------------------------------------------------------------------------------------
def start_mosh(tmux: Tmux, *args: str) -> None:
    tmux.start(report_exit([MOSH, *args]))


def only_session(remote: RemoteMoshd) -> dict[str, Any]:
    sessions = remote.sessions()
    assert len(sessions) == 1, sessions
    return sessions[0]


def mosh_pid(tmux: Tmux) -> int:
    """The `mosh` process in the pane (the wrapper, become the client)."""
    children = subprocess.run(
        ["pgrep", "-P", str(tmux.pane_pid())], capture_output=True, text=True, check=False
    ).stdout.split()
    assert len(children) == 1, children
    return int(children[0])


def client_via(proxy: ProxyProcess, root: Path) -> str:
    """A `--client=PATH` for the wrapper: the real mosh-client, sent towards the proxy."""
    host, port = proxy.address
    script = root / "mosh-client-via-proxy"
    client = shlex.quote(str(BIN / "mosh-client"))
    script.write_text(
        f'#!/bin/sh\n[ "$1" = -c ] && exec {client} -c\nexec {client} {shlex.quote(host)} {port}\n'
    )
    script.chmod(0o755)
    return f"--client={script}"


# --- tests ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_killed_clients_session_is_taken_again_from_another_address(
    tmux: Tmux, second_tmux: Tmux, sshd: Sshd, remote: RemoteMoshd
) -> None:
    start_mosh(tmux, sshd.ssh_option(), remote.server_option(), "root@127.0.0.1")
    tmux.wait_prompt()
    tmux.run_line("echo pid=$$")
    screen = tmux.wait_for(lambda s: re.search(r"pid=(\d+)", s) is not None, what="the pid")
    match = re.search(r"pid=(\d+)", screen)
    assert match is not None
    shell_pid = match.group(1)
    tmux.run_line("i=0; while :; do i=$((i+1)); echo count-$i; sleep 2; done")
    tmux.wait_for_text("count-2", timeout=10)
    session = only_session(remote)
    assert session["state"] == "attached"

    os.kill(mosh_pid(tmux), signal.SIGKILL)  # the client dies without a word
    assert tmux.wait_exit() == 128 + signal.SIGKILL
    time.sleep(DETACHED_AFTER + 1)
    detached = only_session(remote)
    assert detached["state"] == "detached"
    assert detached["session_id"] == session["session_id"]

    # A new session meanwhile: the wrapper shows what `mosh-server new` says of the other.
    third = Tmux()
    try:
        start_mosh(
            third, sshd.ssh_option(), remote.server_option(), "root@127.0.0.1",
            "--", "sh", "-c", "sleep 1",
        )  # fmt: skip
        assert third.wait_exit() == 0
        # Above the session: the client clears the main screen (moshd's scrollback keeps it
        # off the alternate screen), which tmux keeps in its history.
        warning = third._tmux("capture-pane", "-p", "-S", "-", "-t", "main")
    finally:
        third.kill()
    assert "mosh-server: you have a detached session on this server" in warning
    assert f"mosh --attach={session['session_id']} " in warning
    deadline = time.monotonic() + 10
    while len(remote.sessions()) > 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    with ProxyProcess(("127.0.0.1", int(session["port"]))) as proxy:
        proxy.new_source_address("127.0.0.2")
        start_mosh(
            second_tmux,
            "--attach",
            client_via(proxy, remote.root),
            sshd.ssh_option(),
            remote.server_option(),
            "root@127.0.0.1",
        )
        # At once, the whole screen: what the shell printed before the client was killed.
        second_tmux.wait_for(
            lambda s: "pid=" + shell_pid in s and "count-2" in s, 20, "the earlier screen"
        )
        count = lambda s: max(map(int, re.findall(r"count-(\d+)", s)), default=0)  # noqa: E731
        seen = count(second_tmux.capture())
        second_tmux.wait_for(lambda s: count(s) > seen, 10, "the counter going on")
        second_tmux.keys("C-c")
        second_tmux.run_line("echo same-shell=$$ after-$((6*7))")
        second_tmux.wait_for(
            lambda s: f"same-shell={shell_pid} after-42" in s, what="the same shell's answer"
        )
        now = only_session(remote)
        assert now["session_id"] == session["session_id"] and now["pid"] == session["pid"]
        assert now["state"] == "attached"
        assert str(now["peer"]).startswith("127.0.0.2:")  # the new client's address
        assert remote.calls()[-1][:2] == ["attach", "--host=root@127.0.0.1"]
        second_tmux.run_line("exit")
        assert second_tmux.wait_exit() == 0


def test_a_live_client_taken_over_is_told_and_exits(
    tmux: Tmux, second_tmux: Tmux, sshd: Sshd, remote: RemoteMoshd
) -> None:
    start_mosh(tmux, sshd.ssh_option(), remote.server_option(), "root@127.0.0.1")
    tmux.wait_prompt()
    tmux.run_line("echo first-$((2*21))")
    tmux.wait_for_text("first-42")
    session = only_session(remote)

    start_mosh(
        second_tmux,
        f"--attach={session['session_id']}",
        sshd.ssh_option(),
        remote.server_option(),
        "root@127.0.0.1",
    )
    second_tmux.wait_for_text("first-42", timeout=20)  # the screen came along
    assert tmux.wait_exit() == 0  # the old client ends cleanly...
    lines = [line for line in tmux.lines() if line]
    assert lines[lines.index("[mosh exit=0]") - 1] == TAKEN_OVER  # ...and says why
    second_tmux.run_line("echo second-$((3*3))")
    second_tmux.wait_for(lambda s: "\nsecond-9\n" in s, what="the new client's command")
    second_tmux.run_line("exit")
    assert second_tmux.wait_exit() == 0

    # The session has ended: attaching to it again fails, saying so.
    deadline = time.monotonic() + 10
    while remote.sessions():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert attach_failure(sshd, remote, f"--attach={session['session_id']}") == (
        f"mosh: nothing to attach on 127.0.0.1: no session '{session['session_id']}' "
        "(it has ended, or never existed)"
    )


def attach_failure(sshd: Sshd, remote: RemoteMoshd, option: str) -> str:
    """`mosh --attach...` that attaches nothing: its one line of error."""
    result = run_mosh(option, sshd.ssh_option(), remote.server_option(), "root@127.0.0.1")
    assert (result.returncode, result.stdout) == (255, ""), result
    (line,) = result.stderr.splitlines()
    return line


def test_attaching_to_nothing_fails_with_one_clear_line(sshd: Sshd, remote: RemoteMoshd) -> None:
    assert attach_failure(sshd, remote, "--attach=0badc0de") == (
        "mosh: nothing to attach on 127.0.0.1: no session '0badc0de' "
        "(it has ended, or never existed)"
    )
    line = attach_failure(sshd, remote, "--attach")
    assert line.startswith("mosh: nothing to attach on 127.0.0.1: ")
    # No daemon yet (this test alone), or one without a detached session.
    assert "no detached session to attach" in line or "moshd is not running" in line
