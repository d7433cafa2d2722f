"""The `mosh` wrapper end to end: typed into tmux, over a real sshd on loopback, starting
our mosh-server and moshd on the far side, then becoming our mosh-client.

What each test reads as "the server's view": the arguments mosh-server was started with
(recorded by `RemoteMoshd`'s wrapper script), the daemon's sessions over its control socket,
and the addresses its UDP sockets are bound to (/proc/net/udp*, matched to the daemon's fds).
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testsupport.harness import BIN, Tmux, report_exit, run_mosh
from testsupport.sshd import RemoteMoshd, Sshd, free_loopback_port

pytestmark = pytest.mark.e2e

MOSH = str(BIN / "mosh")
LOCALE = "LC_TIME=C.UTF-8"  # put in the pane's environment; must reach `mosh-server -l`


# --- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def remote_v4() -> Iterator[RemoteMoshd]:
    """The far side's moshd, its shared UDP port on 127.0.0.1."""
    remote = RemoteMoshd(bind="127.0.0.1", ports="63800:63849")
    yield remote
    remote.stop()


@pytest.fixture(scope="module")
def remote_v6() -> Iterator[RemoteMoshd]:
    """Another, its shared UDP port on ::1 — so a session bound elsewhere stands out."""
    remote = RemoteMoshd(bind="::1", ports="63860:63899")
    yield remote
    remote.stop()


@pytest.fixture(autouse=True)
def fresh_remotes(tmux: Tmux, remote_v4: RemoteMoshd, remote_v6: RemoteMoshd) -> Iterator[None]:
    """Each test sees only its own mosh-server calls and leaves no session (nor a session's
    own UDP socket) behind. Asking for `tmux` makes its client outlive this teardown: a
    killed session's goodbye is then acknowledged at once instead of timing out."""
    for remote in (remote_v4, remote_v6):
        remote.forget_calls()
    yield
    for remote in (remote_v4, remote_v6):
        remote.kill_all()
    for remote in (remote_v4, remote_v6):
        deadline = time.monotonic() + 15
        while remote.sessions() and time.monotonic() < deadline:
            time.sleep(0.05)


# --- helpers --------------------------------------------------------------------------------------
def start_mosh(tmux: Tmux, *args: str) -> None:
    """Type-free start: the pane runs mosh, then reports its exit status and stays open."""
    tmux.start(report_exit([MOSH, *args]), env={"LC_TIME": "C.UTF-8"})


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 255, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mosh: ")
    return lines[0]


def wait_session(remote: RemoteMoshd, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sessions = remote.sessions()
        if sessions:
            assert len(sessions) == 1, sessions
            return sessions[0]
        time.sleep(0.05)
    raise AssertionError(f"no session appeared; moshd log:\n{remote.logs()}")


def wait_attached(remote: RemoteMoshd, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session = wait_session(remote)
        if session["peer"]:
            return session
        time.sleep(0.05)
    raise AssertionError("the client never reached the session")


def server_call(remote: RemoteMoshd) -> list[str]:
    calls = remote.calls()
    assert len(calls) == 1, calls
    return calls[0]


def udp_bound_addresses(pid: int, port: int) -> set[str]:
    """The local addresses of process `pid`'s UDP sockets on `port`."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:[") : -1])
    found = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            address, _, port_hex = fields[1].partition(":")
            if int(port_hex, 16) == port and fields[9] in inodes:
                found.add(_kernel_address(address))
    return found


def _kernel_address(hex_text: str) -> str:
    # The kernel prints each 32-bit word of the address in host (little-endian) order.
    raw = bytes.fromhex(hex_text)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def session_bound_to(remote: RemoteMoshd, session: dict[str, Any]) -> set[str]:
    """Addresses the daemon has a UDP socket on at the session's port. That can be two: its
    shared socket and, bound elsewhere, one opened for this session on the same number."""
    pid = remote.daemon_pid()
    assert pid is not None
    return udp_bound_addresses(pid, int(session["port"]))


# --- sessions over ssh ----------------------------------------------------------------------------
def test_login_session_over_ssh(tmux: Tmux, sshd: Sshd, remote_v4: RemoteMoshd) -> None:
    start_mosh(tmux, sshd.ssh_option(), remote_v4.server_option(), "root@127.0.0.1")
    tmux.wait_prompt()
    tmux.run_line("echo $((6*7))")
    tmux.wait_for(lambda s: "\n42\n" in s, what="42 on its own line")

    call = server_call(remote_v4)
    assert call[:2] == ["new", "-c"] and call[2].isdigit()
    assert call[3] == "-s"  # --bind-server=ssh, the default
    assert call[call.index(LOCALE) - 1 : call.index(LOCALE) + 1] == ["-l", LOCALE]
    assert "--" not in call  # no command: the login shell
    session = wait_attached(remote_v4)
    assert session["peer"].startswith("127.0.0.1:")
    assert session_bound_to(remote_v4, session) == {"127.0.0.1"}  # = MOSHD_BIND: shared

    tmux.run_line("exit")
    assert tmux.wait_exit() == 0


def test_remote_command_arguments_survive_both_shells(
    tmux: Tmux, sshd: Sshd, remote_v4: RemoteMoshd
) -> None:
    script = 'printf "%s|%s\\n" "$0" "$1"; sleep 3'
    start_mosh(
        tmux,
        sshd.ssh_option(),
        remote_v4.server_option(),
        "root@127.0.0.1",
        "--",
        "sh",
        "-c",
        script,
        "two  words",
        "it's $HOME",
    )
    tmux.wait_for_text("two  words|it's $HOME", timeout=20)
    call = server_call(remote_v4)
    assert call[call.index("--") :] == ["--", "sh", "-c", script, "two  words", "it's $HOME"]
    assert tmux.wait_exit() == 0
    # moshd sends its scrollback, so the client keeps to the main screen (no alternate screen
    # to leave): the session's last screen stays, as after ssh.
    assert "two  words" in tmux.capture()


def test_a_command_that_ends_at_once_still_shows_its_output(
    tmux: Tmux, sshd: Sshd, remote_v4: RemoteMoshd
) -> None:
    start_mosh(
        tmux, "--no-init", sshd.ssh_option(), remote_v4.server_option(), "root@127.0.0.1",
        "--", "printf", "ok",
    )  # fmt: skip
    assert tmux.wait_exit(timeout=6) == 0
    assert "ok" in tmux.capture()


def test_no_init_leaves_the_session_on_the_screen(
    tmux: Tmux, sshd: Sshd, remote_v4: RemoteMoshd
) -> None:
    start_mosh(
        tmux, "--no-init", sshd.ssh_option(), remote_v4.server_option(), "root@127.0.0.1",
        "--", "sh", "-c", "echo no-init-$((6*7)); sleep 3",
    )  # fmt: skip
    tmux.wait_for_text("no-init-42", timeout=20)
    assert tmux.wait_exit() == 0
    screen = tmux.capture()
    assert "no-init-42" in screen  # no alternate screen: nothing was taken away


def test_port_and_prediction_options(tmux: Tmux, sshd: Sshd, remote_v4: RemoteMoshd) -> None:
    start_mosh(
        tmux, "-n", "-p", "63850", sshd.ssh_option(), remote_v4.server_option(), "root@127.0.0.1"
    )
    tmux.wait_prompt()
    call = server_call(remote_v4)
    assert call[call.index("-p") + 1] == "63850"
    session = wait_attached(remote_v4)
    assert session["port"] == 63850
    tmux.run_line("exit")
    assert tmux.wait_exit() == 0


@pytest.mark.parametrize(
    ("option", "bind_args", "bound"),
    [
        ("--bind-server=ssh", ["-s"], "127.0.0.1"),  # the ssh connection's local address
        ("--bind-server=any", [], "::1"),  # the daemon's own choice (MOSHD_BIND here)
        ("--bind-server=127.0.0.1", ["-i", "127.0.0.1"], "127.0.0.1"),
    ],
)
def test_bind_server(
    tmux: Tmux,
    sshd: Sshd,
    remote_v6: RemoteMoshd,
    option: str,
    bind_args: list[str],
    bound: str,
) -> None:
    start_mosh(tmux, option, sshd.ssh_option(), remote_v6.server_option(), "root@127.0.0.1")
    session = wait_session(remote_v6)
    call = server_call(remote_v6)
    assert call[3 : 3 + len(bind_args)] == bind_args
    assert call[3 + len(bind_args)] == "-l"  # then the locale: no other binding option
    addresses = session_bound_to(remote_v6, session)
    assert bound in addresses
    if not bind_args:
        assert addresses == {"::1"}  # the shared socket only: none opened for the session
    if bound == "127.0.0.1":  # reachable from the client, which uses the ssh address
        tmux.wait_prompt()


def test_ipv6_over_ssh(tmux: Tmux, sshd: Sshd, remote_v4: RemoteMoshd) -> None:
    start_mosh(tmux, "-6", sshd.ssh_option(), remote_v4.server_option(), "root@::1")
    tmux.wait_prompt()
    session = wait_attached(remote_v4)
    assert session["peer"].startswith("[::1]:")
    assert "::1" in session_bound_to(remote_v4, session)  # -s: where ssh arrived
    tmux.run_line("exit")
    assert tmux.wait_exit() == 0


@pytest.mark.parametrize("mode", ["remote", "local"])
def test_other_ways_to_find_the_servers_address(
    tmux: Tmux, sshd: Sshd, remote_v4: RemoteMoshd, mode: str
) -> None:
    start_mosh(
        tmux,
        f"--experimental-remote-ip={mode}",
        sshd.ssh_option(),
        remote_v4.server_option(),
        "root@127.0.0.1",
    )
    tmux.wait_prompt()
    assert wait_attached(remote_v4)["peer"].startswith("127.0.0.1:")
    tmux.run_line("exit")
    assert tmux.wait_exit() == 0
    if mode == "remote":  # upstream's warning, above the session (the client clears the main
        # screen when it starts, which tmux keeps in its history)
        history = tmux._tmux("capture-pane", "-p", "-S", "-", "-t", "main")
        assert "Using remote IP address 127.0.0.1 from $SSH_CONNECTION" in history


# --- --local --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("host", "remote_name"), [("127.0.0.1", "remote_v4"), ("::1", "remote_v6")]
)
def test_local_session(
    tmux: Tmux, request: pytest.FixtureRequest, host: str, remote_name: str
) -> None:
    remote: RemoteMoshd = request.getfixturevalue(remote_name)
    start_mosh(tmux, "--local", remote.server_option(), host)
    tmux.wait_prompt()
    tmux.run_line("echo local-$((6*7))")
    tmux.wait_for(lambda s: "\nlocal-42\n" in s, what="the command's output")
    call = server_call(remote)
    assert call[3:5] == ["-i", host]
    session = wait_attached(remote)
    expected_peer = f"[{host}]:" if ":" in host else f"{host}:"
    assert session["peer"].startswith(expected_peer)
    assert session_bound_to(remote, session) == {host}
    tmux.run_line("exit")
    assert tmux.wait_exit() == 0


# --- failures, each one line ----------------------------------------------------------------------
def test_wrong_ssh_port_through_the_proxy(sshd: Sshd, remote_v4: RemoteMoshd) -> None:
    closed = free_loopback_port()
    error = one_line_error(
        run_mosh(sshd.ssh_option(closed), remote_v4.server_option(), "root@127.0.0.1")
    )
    assert error == (
        f"mosh: Could not connect to 127.0.0.1 port {closed}, last tried 127.0.0.1: "
        "Connection refused"
    )


def test_wrong_ssh_port_quotes_ssh(sshd: Sshd, remote_v4: RemoteMoshd) -> None:
    closed = free_loopback_port()
    result = run_mosh(
        "--experimental-remote-ip=remote",
        sshd.ssh_option(closed),
        remote_v4.server_option(),
        "root@127.0.0.1",
    )
    assert one_line_error(result) == (
        f"mosh: ssh to root@127.0.0.1 failed: ssh: connect to host 127.0.0.1 port {closed}: "
        "Connection refused"
    )


def test_server_not_found(sshd: Sshd) -> None:
    error = one_line_error(run_mosh(sshd.ssh_option(), "--server=/nonexistent", "root@127.0.0.1"))
    assert error.startswith("mosh: /nonexistent not found on 127.0.0.1: ")
    assert "No such file or directory" in error
    assert "--server=PATH" in error


def test_family_without_such_an_address(sshd: Sshd, remote_v4: RemoteMoshd) -> None:
    error = one_line_error(run_mosh("-4", sshd.ssh_option(), remote_v4.server_option(), "root@::1"))
    assert error.startswith("mosh: could not find an IPv4 address for ::1")
    assert remote_v4.calls() == []  # never got as far as the server


def test_bad_option(sshd: Sshd) -> None:
    error = one_line_error(run_mosh("--predict=sometimes", sshd.ssh_option(), "root@127.0.0.1"))
    assert '"sometimes"' in error
