"""moshd.systemd without a service manager: the messages and the environment parsing."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from moshd.systemd import (
    ListenFd,
    Notifier,
    activated_control_socket,
    format_notify,
    is_listening_unix_stream,
    listen_fds,
    notify_address,
    watchdog_interval,
)


@pytest.fixture
def tmp() -> Iterator[Path]:
    # Unix socket paths are short (108 bytes): pytest's tmp_path can be too long.
    with tempfile.TemporaryDirectory(prefix="moshd-sd-") as name:
        yield Path(name)


# --- sd_notify --------------------------------------------------------------------------------
def test_notify_message_is_key_value_lines() -> None:
    assert format_notify({"READY": 1, "STATUS": "2 sessions on UDP port 60001"}) == (
        b"READY=1\nSTATUS=2 sessions on UDP port 60001\n"
    )


def test_a_newline_in_a_value_cannot_smuggle_in_another_assignment() -> None:
    assert format_notify({"STATUS": "ok\nREADY=1"}) == b"STATUS=ok READY=1\n"


@pytest.mark.parametrize("key", ["", "A=B", "A\nB"])
def test_bad_field_names_are_refused(key: str) -> None:
    with pytest.raises(ValueError):
        format_notify({key: "1"})


def test_notify_addresses() -> None:
    assert notify_address("/run/user/1000/systemd/notify") == "/run/user/1000/systemd/notify"
    assert notify_address("@/org/freedesktop/systemd1/notify") == (
        b"\0/org/freedesktop/systemd1/notify"
    )
    assert notify_address(None) is None
    assert notify_address("") is None
    assert notify_address("relative/path") is None
    assert notify_address("vsock:2:1234") is None


def _receiver(address: str | bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5)
    return sock


def test_notifier_sends_to_a_path_socket(tmp: Path) -> None:
    path = str(tmp / "notify")
    with _receiver(path) as receiver:
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": path})
        assert notifier.enabled
        assert notifier.ready("0 sessions on UDP port 60001")
        assert receiver.recv(4096) == b"READY=1\nSTATUS=0 sessions on UDP port 60001\n"
        assert notifier.stopping("stopping: hanging up 1 session")
        assert receiver.recv(4096) == b"STOPPING=1\nSTATUS=stopping: hanging up 1 session\n"
        assert notifier.reloading()
        reloading = receiver.recv(4096)
        assert reloading.startswith(b"RELOADING=1\nMONOTONIC_USEC=")
        assert reloading.endswith(b"\n")


def test_notifier_sends_to_an_abstract_socket() -> None:
    name = f"moshd-test-{os.getpid()}-{id(object())}"
    with _receiver(b"\0" + name.encode()) as receiver:
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": "@" + name})
        assert notifier.status("1 session on UDP port 60001")
        assert receiver.recv(4096) == b"STATUS=1 session on UDP port 60001\n"


def test_without_a_manager_notifying_does_nothing() -> None:
    notifier = Notifier.from_environ({})
    assert not notifier.enabled
    assert notifier.ready("x") is False
    assert notifier.watchdog_interval is None


def test_a_vanished_manager_is_not_an_error(tmp: Path) -> None:
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": str(tmp / "gone")})
    assert notifier.send(READY=1) is False


def test_watchdog_interval_is_half_the_period_for_us_only() -> None:
    me = os.getpid()
    assert watchdog_interval({"WATCHDOG_USEC": "20000000"}) == 10.0
    assert watchdog_interval({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(me)}) == 10.0
    assert watchdog_interval({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(me + 1)}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_interval({}) is None
    # without a notify socket there is nobody to ping
    assert Notifier.from_environ({"WATCHDOG_USEC": "2000000"}).watchdog_interval is None


# --- socket activation --------------------------------------------------------------------------
def _env(pid: int, count: str = "2", names: str | None = "control:udp") -> dict[str, str]:
    env = {"LISTEN_PID": str(pid), "LISTEN_FDS": count, "PATH": "/usr/bin"}
    if names is not None:
        env["LISTEN_FDNAMES"] = names
    return env


def test_listen_fds_for_this_process_start_at_fd_3_and_carry_their_names() -> None:
    env = _env(4242)
    assert listen_fds(env, pid=4242) == [ListenFd(3, "control"), ListenFd(4, "udp")]
    assert env == {"PATH": "/usr/bin"}  # consumed: nothing we start may inherit them


def test_listen_fds_meant_for_another_process_are_ignored_and_still_unset() -> None:
    env = _env(4243)
    assert listen_fds(env, pid=4242) == []
    assert env == {"PATH": "/usr/bin"}


@pytest.mark.parametrize(
    ("listen_pid", "count"), [("", "1"), ("x", "1"), ("4242", "0"), ("4242", "-1"), ("4242", "")]
)
def test_malformed_listen_variables_mean_no_fds(listen_pid: str, count: str) -> None:
    env = {"LISTEN_PID": listen_pid, "LISTEN_FDS": count}
    assert listen_fds(env, pid=4242) == []
    assert env == {}


def test_names_that_do_not_add_up_are_unknown() -> None:
    assert listen_fds(_env(7, "2", "control"), pid=7) == [
        ListenFd(3, "unknown"),
        ListenFd(4, "unknown"),
    ]
    assert listen_fds(_env(7, "1", None), pid=7) == [ListenFd(3, "unknown")]


def test_no_variables_no_fds() -> None:
    assert listen_fds({}, pid=1) == []


def test_only_a_listening_unix_stream_socket_is_taken_as_control(tmp: Path) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp / "control.sock"))
    listener.listen()
    unlistening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    read_end, write_end = os.pipe()
    try:
        assert is_listening_unix_stream(listener.fileno())
        assert not is_listening_unix_stream(unlistening.fileno())
        assert not is_listening_unix_stream(udp.fileno())
        assert not is_listening_unix_stream(read_end)
    finally:
        os.close(read_end)
        os.close(write_end)
        unlistening.close()
        udp.close()
        listener.close()


def test_activated_control_socket_picks_by_name_and_closes_the_rest(tmp: Path) -> None:
    first = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    first.bind(str(tmp / "a.sock"))
    first.listen()
    second = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    second.bind(str(tmp / "b.sock"))
    second.listen()
    fds = [ListenFd(first.detach(), "other"), ListenFd(second.detach(), "control")]
    chosen = activated_control_socket(fds)
    assert chosen is not None
    with chosen:
        assert chosen.fileno() == fds[1].fd
        assert chosen.getsockname() == str(tmp / "b.sock")
        with pytest.raises(OSError):
            os.fstat(fds[0].fd)  # closed: no use to us


def test_activated_control_socket_none_when_nothing_fits() -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fd = udp.detach()
    assert activated_control_socket([ListenFd(fd, "control")]) is None
    with pytest.raises(OSError):
        os.fstat(fd)
    assert activated_control_socket([]) is None


def test_a_manager_that_stops_reading_cannot_block_the_daemon(tmp: Path) -> None:
    path = str(tmp / "notify")
    with _receiver(path):  # bound, never read: its queue fills after a few datagrams
        notifier = Notifier(path, send_timeout=0.05)
        started = time.monotonic()
        sent = [notifier.status(f"{n} sessions") for n in range(40)]
        assert time.monotonic() - started < 40 * 0.05 + 2.0
        assert sent[0] and not sent[-1]  # later ones dropped after the bounded wait


@pytest.mark.trio
async def test_watchdog_pings_never_wait_for_a_full_queue(tmp: Path) -> None:
    path = str(tmp / "notify")
    with _receiver(path):
        notifier = Notifier(path, watchdog_interval=0.001, send_timeout=10.0)
        with trio.fail_after(5):  # a blocking send would hang here (and in moshd, everything)
            with trio.move_on_after(0.3):
                await notifier.watchdog_loop()
