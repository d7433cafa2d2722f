"""moshd.control.paths: where the socket lives, and who may use it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from moshd.control import paths
from moshd.control.paths import PeerCreds

# --------------------------------------------------------------------------------------------
# Where the socket lives, and who may use it


def test_socket_in_xdg_runtime_dir(tmp_path: Path) -> None:
    path = paths.control_socket_path({"XDG_RUNTIME_DIR": str(tmp_path)}, os.getuid())
    assert path == tmp_path / "moshd" / "control.sock"


@pytest.mark.parametrize(
    "runtime_dir",
    [None, "", "relative/dir", "/nonexistent/run/user/1000"],
)
def test_socket_falls_back_to_tmp(runtime_dir: str | None) -> None:
    env = {} if runtime_dir is None else {"XDG_RUNTIME_DIR": runtime_dir}
    assert paths.control_socket_path(env, 1234) == Path("/tmp/moshd-1234/control.sock")


def test_runtime_dir_of_another_user_is_not_used(tmp_path: Path) -> None:
    other_uid = os.getuid() + 1
    path = paths.control_socket_path({"XDG_RUNTIME_DIR": str(tmp_path)}, other_uid)
    assert path == Path(f"/tmp/moshd-{other_uid}/control.sock")


def test_runtime_dir_too_long_for_a_socket_address(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    path = paths.control_socket_path({"XDG_RUNTIME_DIR": str(deep)}, os.getuid())
    assert path == Path(f"/tmp/moshd-{os.getuid()}/control.sock")


def test_default_arguments_use_this_process() -> None:
    assert paths.control_socket_path().name == "control.sock"


def test_authorize_same_uid_only() -> None:
    assert paths.authorize(1000, 1000)
    assert not paths.authorize(1001, 1000)
    assert not paths.authorize(0, 1000)  # root is not special
    assert not paths.authorize(1000, 0)
    assert paths.authorize(0, 0)


def test_peer_credentials_of_a_socketpair() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        creds = paths.peer_credentials(left)
    assert creds == PeerCreds(os.getpid(), os.getuid(), os.getgid())
    assert creds == (os.getpid(), os.getuid(), os.getgid())
