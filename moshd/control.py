"""The daemon's side of the control socket: who may use it, binding it, the Trio server.

The protocol itself (requests, replies, the socket's path) and the synchronous client that
`mosh-server` uses are in `moshd.control_protocol`, which needs no trio; they are re-exported
here, so that the daemon and its tests find everything in one place.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import stat
import struct
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias

import structlog
import trio

from moshd.control_protocol import (
    CODE_BAD_REQUEST,
    CODE_FORBIDDEN,
    CODE_INTERNAL,
    CODE_LINE_TOO_LONG,
    CODE_NO_SUCH_SESSION,
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    MAX_COLORS,
    MAX_DIMENSION,
    MAX_LINE_BYTES,
    MAX_REPLY_BYTES,
    MAX_TIMEOUT_S,
    SOCKET_NAME,
    AlreadyRunning,
    ControlError,
    DaemonUnreachable,
    ErrorReply,
    KillRequest,
    ListReply,
    ListRequest,
    NewReply,
    NewRequest,
    PortRange,
    ProtocolError,
    Request,
    SessionInfo,
    StatusReply,
    StatusRequest,
    UnsafeControlDirectory,
    control_socket_path,
    encode_line,
    error_reply,
    parse_port_spec,
    parse_request,
    request,
    request_to_json,
)

_LOCK_NAME = "control.lock"

_log = structlog.get_logger("moshd.control")

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


# ---------------------------------------------------------------------------------------------
# Binding the socket (daemon side)

# Lock file descriptors held while a daemon owns a socket path, keyed by that path. The lock
# closes the race in which two starting daemons both find a stale socket and one unlinks the
# socket the other has just bound.
_held_locks: dict[str, int] = {}


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


# ---------------------------------------------------------------------------------------------
# The Trio server (daemon side)

Handler: TypeAlias = Callable[[Request, PeerCreds], Awaitable[Mapping[str, Any]]]
Authorizer: TypeAlias = Callable[[int, int], bool]


async def serve_control(
    listener_socket: trio.socket.SocketType | trio.SocketListener,
    handler: Handler,
    own_uid: int,
    *,
    authorizer: Authorizer = authorize,
    idle_timeout: float = 60.0,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept control connections forever, answering each request line with `handler`'s reply.

    A connection from another uid gets `{"ok": false, "code": "forbidden"}` and is closed.
    A handler may raise ControlError for an error reply; any other exception becomes an
    `internal` error reply and is logged. No connection's failure stops the server.
    """
    listener = (
        listener_socket
        if isinstance(listener_socket, trio.SocketListener)
        else trio.SocketListener(listener_socket)
    )

    async def serve_one(stream: trio.SocketStream) -> None:
        await _serve_connection(stream, handler, own_uid, authorizer, idle_timeout)

    async with trio.open_nursery() as nursery:
        task_status.started()
        while True:
            stream = await listener.accept()
            nursery.start_soon(serve_one, stream)


async def _serve_connection(
    stream: trio.SocketStream,
    handler: Handler,
    own_uid: int,
    authorizer: Authorizer,
    idle_timeout: float,
) -> None:
    async with stream:
        try:
            peer = peer_credentials(stream.socket)
            if not authorizer(peer.uid, own_uid):
                _log.warning("control.forbidden", peer_pid=peer.pid, peer_uid=peer.uid)
                await stream.send_all(
                    encode_line(error_reply(CODE_FORBIDDEN, "permission denied: not your daemon"))
                )
                return
            await _answer_requests(stream, handler, peer, idle_timeout)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client went away; nothing to answer
        except Exception:
            _log.exception("control.connection_failed")


async def _answer_requests(
    stream: trio.SocketStream, handler: Handler, peer: PeerCreds, idle_timeout: float
) -> None:
    reader = _LineReader(stream)
    while True:
        # Only the wait for a request is timed: a handler is never cancelled half-way through.
        with trio.move_on_after(idle_timeout) as idle:
            try:
                line = await reader.next_line()
            except ProtocolError as error:  # too long: there is no finding the next request
                await stream.send_all(encode_line(error_reply(CODE_LINE_TOO_LONG, str(error))))
                return
        if idle.cancelled_caught or line is None:
            return
        if line.strip():
            await stream.send_all(await _reply_line(line, handler, peer))


async def _reply_line(line: bytes, handler: Handler, peer: PeerCreds) -> bytes:
    reply = await _reply_to(line, handler, peer)
    try:
        return encode_line(reply)
    except (TypeError, ValueError) as error:  # the handler returned something not JSON
        _log.error("control.reply_not_json", error_type=type(error).__name__)
        return encode_line(error_reply(CODE_INTERNAL, "internal error in moshd: bad reply"))


async def _reply_to(line: bytes, handler: Handler, peer: PeerCreds) -> Mapping[str, Any]:
    try:
        parsed = parse_request(line)
    except ProtocolError as error:
        return error_reply(error.code, str(error))
    try:
        reply = await handler(parsed, peer)
    except ControlError as error:
        return error_reply(error.code, error.message)
    except Exception as error:
        # Never log the request or reply wholesale: a `new` reply carries the session key.
        _log.exception("control.handler_failed", op=parsed.op, peer_pid=peer.pid)
        return error_reply(CODE_INTERNAL, f"internal error in moshd: {type(error).__name__}")
    return reply if "ok" in reply else {"ok": True, **reply}


class _LineReader:
    """Splits a byte stream into lines of at most MAX_LINE_BYTES."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self._buffer = bytearray()
        self._eof = False

    async def next_line(self) -> bytes | None:
        """The next line without its newline; the unterminated tail at EOF; None at EOF."""
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                if newline > MAX_LINE_BYTES:
                    raise ProtocolError(f"request longer than {MAX_LINE_BYTES} bytes")
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                return line
            if len(self._buffer) > MAX_LINE_BYTES:
                raise ProtocolError(f"request longer than {MAX_LINE_BYTES} bytes")
            if self._eof:
                tail, self._buffer = bytes(self._buffer), bytearray()
                return tail or None
            chunk = await self._stream.receive_some(65536)
            if not chunk:
                self._eof = True
            self._buffer += chunk


__all__ = [
    "CODE_BAD_REQUEST",
    "CODE_FORBIDDEN",
    "CODE_INTERNAL",
    "CODE_LINE_TOO_LONG",
    "CODE_NO_SUCH_SESSION",
    "DEFAULT_HEIGHT",
    "DEFAULT_WIDTH",
    "MAX_COLORS",
    "MAX_DIMENSION",
    "MAX_LINE_BYTES",
    "MAX_REPLY_BYTES",
    "MAX_TIMEOUT_S",
    "SOCKET_NAME",
    "AlreadyRunning",
    "ControlError",
    "DaemonUnreachable",
    "ErrorReply",
    "KillRequest",
    "ListReply",
    "ListRequest",
    "NewReply",
    "NewRequest",
    "PeerCreds",
    "PortRange",
    "ProtocolError",
    "Request",
    "SessionInfo",
    "StatusReply",
    "StatusRequest",
    "UnsafeControlDirectory",
    "authorize",
    "bind_control_socket",
    "close_control_socket",
    "control_socket_path",
    "encode_line",
    "ensure_private_directory",
    "error_reply",
    "parse_port_spec",
    "parse_request",
    "peer_credentials",
    "request",
    "request_to_json",
    "serve_control",
]
