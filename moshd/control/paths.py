"""Where the control socket lives and who may use it: its path, its private directory, and
the credentials of the process at the other end.

Only processes of the daemon's own uid may talk to it (SO_PEERCRED); the socket lives in a
0700 directory and is itself 0600, so that check is the second fence.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from moshd.control.errors import UnsafeControlDirectory

if TYPE_CHECKING:  # only for annotations: `mosh-server` imports this module, without trio
    import trio

SOCKET_NAME = "control.sock"
_SOCKADDR_UN_PATH_MAX = 107  # sizeof(sun_path) - 1 on Linux

# ---------------------------------------------------------------------------------------------
# Where the socket lives


def control_socket_path(env: Mapping[str, str] = os.environ, uid: int | None = None) -> Path:
    """`$XDG_RUNTIME_DIR/moshd/control.sock`, or `/tmp/moshd-$UID/control.sock` when
    XDG_RUNTIME_DIR is unset, not an absolute path to a directory of ours, or too long for
    a Unix socket address."""
    if uid is None:
        uid = os.getuid()
    runtime_dir = env.get("XDG_RUNTIME_DIR", "")
    if runtime_dir and _is_usable_runtime_dir(runtime_dir, uid):
        candidate = Path(runtime_dir) / "moshd" / SOCKET_NAME
        if len(os.fsencode(candidate)) <= _SOCKADDR_UN_PATH_MAX:
            return candidate
    return Path(f"/tmp/moshd-{uid}") / SOCKET_NAME


def _is_usable_runtime_dir(path: str, uid: int) -> bool:
    if not os.path.isabs(path):
        return False
    try:
        info = os.stat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == uid


def ensure_private_directory(directory: Path, uid: int | None = None) -> None:
    """Create `directory` 0700, or check that the existing one is ours, not a symlink, private."""
    if uid is None:
        uid = os.getuid()
    with contextlib.suppress(FileExistsError):
        os.mkdir(directory, 0o700)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeControlDirectory(f"{directory} is not a directory")
    if info.st_uid != uid:
        raise UnsafeControlDirectory(f"{directory} belongs to uid {info.st_uid}, not {uid}")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(directory, 0o700)  # ours, merely too open (e.g. created under another umask)


# ---------------------------------------------------------------------------------------------
# Who may use the socket


class PeerCreds(NamedTuple):
    pid: int
    uid: int
    gid: int


_UCRED = struct.Struct("3i")  # struct ucred { pid_t pid; uid_t uid; gid_t gid; }


def peer_credentials(sock: socket.socket | trio.socket.SocketType) -> PeerCreds:
    """The pid, uid and gid of the process at the other end of a Unix stream socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return PeerCreds(pid, uid, gid)


def authorize(peer_uid: int, own_uid: int) -> bool:
    """Only the daemon's own user may use it. Root is not special: root can become the user."""
    return peer_uid == own_uid
