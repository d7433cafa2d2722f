"""Binding the daemon's control socket: the listening socket, the instance lock that keeps a
second daemon off the same path, replacing a stale socket, and undoing it all on close."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import stat
from pathlib import Path

import trio

from moshd.control.errors import AlreadyRunning, UnsafeControlDirectory
from moshd.control.paths import ensure_private_directory

_LOCK_NAME = "control.lock"

# Lock file descriptors held while a daemon owns a socket path, keyed by that path. The lock
# closes the race in which two starting daemons both find a stale socket and one unlinks the
# socket the other has just bound.
_held_locks: dict[str, int] = {}


def bind_control_socket(path: Path | str) -> trio.socket.SocketType:
    """Bind and listen on the control socket, replacing a stale socket file.

    Raises AlreadyRunning if a live daemon answers on `path` (or holds its lock).
    Undo with `close_control_socket`.
    """
    path = Path(path)
    ensure_private_directory(path.parent)
    lock_fd = _acquire_instance_lock(path)
    try:
        _remove_stale_socket(path)
        listener = _listening_unix_socket(path)
    except BaseException:
        _release_instance_lock(path, lock_fd)
        raise
    return trio.socket.from_stdlib_socket(listener)


def _listening_unix_socket(path: Path) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            listener.bind(os.fspath(path))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise AlreadyRunning(f"a moshd is already listening on {path}") from None
            raise
        # The 0700 directory already keeps others out; 0600 is the belt to its braces.
        os.chmod(path, 0o600)
        listener.listen(128)
    except BaseException:
        listener.close()
        raise
    return listener


def close_control_socket(sock: trio.socket.SocketType, path: Path | str) -> None:
    """Close the listener, remove the socket file and release the instance lock."""
    path = Path(path)
    try:
        sock.close()
    except RuntimeError:  # outside a Trio run nobody can be waiting on it: close it plainly
        os.close(sock.detach())
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    lock_fd = _held_locks.pop(os.fspath(path), None)
    if lock_fd is not None:
        os.close(lock_fd)


def _acquire_instance_lock(path: Path) -> int:
    lock_fd = os.open(path.parent / _LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock_fd)
        raise AlreadyRunning(f"another moshd holds {path.parent / _LOCK_NAME}") from None
    _held_locks[os.fspath(path)] = lock_fd
    return lock_fd


def _release_instance_lock(path: Path, lock_fd: int) -> None:
    _held_locks.pop(os.fspath(path), None)
    os.close(lock_fd)


def _remove_stale_socket(path: Path) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise UnsafeControlDirectory(f"{path} exists and is not a socket; not removing it")
    if _socket_answers(path):
        raise AlreadyRunning(f"a moshd is already listening on {path}")
    os.unlink(path)


def _socket_answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(os.fspath(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True
