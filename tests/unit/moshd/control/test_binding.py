"""moshd.control.binding: binding the socket, the instance lock, stale sockets."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from moshd.control import binding, paths
from moshd.control.errors import (
    AlreadyRunning,
    UnsafeControlDirectory,
)

# --------------------------------------------------------------------------------------------
# Binding


@pytest.fixture
def bound(socket_path: Path) -> Any:
    sock = binding.bind_control_socket(socket_path)
    yield sock
    binding.close_control_socket(sock, socket_path)


def test_bind_creates_private_directory_and_socket(socket_path: Path, bound: Any) -> None:
    assert stat.S_IMODE(os.stat(socket_path.parent).st_mode) == 0o700
    info = os.stat(socket_path)
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert bound.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1


def test_second_bind_while_running_is_refused(socket_path: Path, bound: Any) -> None:
    with pytest.raises(AlreadyRunning):
        binding.bind_control_socket(socket_path)
    assert stat.S_ISSOCK(os.stat(socket_path).st_mode)  # the live socket was left alone


def test_a_live_listener_without_our_lock_is_detected(socket_path: Path) -> None:
    paths.ensure_private_directory(socket_path.parent)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as live:
        live.bind(str(socket_path))
        live.listen()
        with pytest.raises(AlreadyRunning, match="already listening"):
            binding.bind_control_socket(socket_path)
    # The failed attempt released its lock: once the listener is gone, binding works.
    sock = binding.bind_control_socket(socket_path)
    binding.close_control_socket(sock, socket_path)


def test_stale_socket_is_replaced(socket_path: Path) -> None:
    paths.ensure_private_directory(socket_path.parent)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(socket_path))  # closed without unlinking: what a crashed daemon leaves
    sock = binding.bind_control_socket(socket_path)
    binding.close_control_socket(sock, socket_path)
    assert not socket_path.exists()


def test_close_releases_so_the_next_daemon_can_bind(socket_path: Path) -> None:
    for _ in range(2):
        sock = binding.bind_control_socket(socket_path)
        binding.close_control_socket(sock, socket_path)


def test_a_regular_file_in_the_way_is_not_removed(socket_path: Path) -> None:
    paths.ensure_private_directory(socket_path.parent)
    socket_path.write_text("precious")
    with pytest.raises(UnsafeControlDirectory, match="not a socket"):
        binding.bind_control_socket(socket_path)
    assert socket_path.read_text() == "precious"


def test_too_open_directory_of_ours_is_tightened(socket_path: Path) -> None:
    socket_path.parent.mkdir(mode=0o755)
    os.chmod(socket_path.parent, 0o755)
    paths.ensure_private_directory(socket_path.parent)
    assert stat.S_IMODE(os.stat(socket_path.parent).st_mode) == 0o700


def test_symlinked_directory_is_refused(socket_path: Path, tmp_path: Path) -> None:
    socket_path.parent.symlink_to(tmp_path)
    with pytest.raises(UnsafeControlDirectory, match="not a directory"):
        binding.bind_control_socket(socket_path)


def test_directory_of_another_user_is_refused(socket_path: Path) -> None:
    socket_path.parent.mkdir(mode=0o700)
    with pytest.raises(UnsafeControlDirectory, match="belongs to uid"):
        paths.ensure_private_directory(socket_path.parent, uid=os.getuid() + 1)
